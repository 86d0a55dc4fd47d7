"""Two fixed-cost and precision figures of a small-cnn run, side by side in one process:

(1) the training step in bf16 autocast against float32 (``train.precision``), on the shapes of
    ``suites/fashion-mnist-cpu.yaml``: small-cnn, 1x28x28 images, embedding 64, batch 80, the
    paper's loss (``improved``, beta 4, gamma 10), Adam as modbench builds it; the step is
    ``StepParts`` as ``train_run`` creates it (``precision=`` decides the autocast), on
    synthetic normalised images (the step's cost does not depend on the pixel values).
    Rounds alternate the order (f b, then b f) so that load from other jobs hits both alike;
    reported: the median over rounds of ms per step, wall and CPU (this process's CPU time,
    ``time.process_time``), and the median of each round's ratio.
(2) the start-up cost: a fresh interpreter that imports the engine, loads Fashion-MNIST (the
    Debian .gz files, or ``--data-dir``), builds the model and runs one training step, then exits;
    measured from the parent: wall time from spawn to exit and the child's CPU time
    (``os.wait4``). "before" adds ``import torchvision.datasets`` first, which is what the
    Fashion-MNIST loader used to import for every run; "after" is the code as it is.

    OMP_NUM_THREADS=1 python benchmarks/bf16_startup.py [--rounds 5] [--steps 30] [--starts 3] [--json]

The CPU model is read from /proc/cpuinfo; where torch reports no native bf16 support
(``backend.cpu_bf16_supported``), modbench refuses ``precision: bf16`` and the bf16 figure
measures torch's emulation: the table says so.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from modbench.engine import backend
from modbench.engine.loop import StepParts, place
from modbench.engine.model import build_model
from modbench.engine.train import build_loss, build_optimizer


ROOT = Path(__file__).resolve().parent.parent
LOSS = {"name": "improved", "params": {"beta": 4, "gamma": 10}}
TRAIN = {"optimizer": "adam", "lr": 1e-3, "weight_decay": 4e-4, "betas": (0.9, 0.999), "momentum": 0.9}
BATCH, EMBEDDING, CLASSES = 80, 64, 10

STARTUP = """\
import sys, warnings
if sys.argv[1] == "before":
    import torchvision.datasets  # what modbench/datasets/fashion_mnist.py imported at the top
import torch
from modbench.datasets import load_splits
from modbench.engine import backend
from modbench.engine.loop import StepParts, place
from modbench.engine.model import build_model
from modbench.engine.train import build_loss, build_optimizer

backend.configure(torch.device("cpu"))
data_dir = sys.argv[2] or None
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    s = load_splits({"name": "fashion-mnist", "val_fraction": 0.1, "split_seed": 0, "subset": 400},
                    data_dir=data_dir, download=False)
torch.manual_seed(0)
model = build_model({"name": "small-cnn", "embedding_dim": 64}, in_channels=1, image_size=28)
loss_fn = build_loss({"name": "improved", "params": {"beta": 4, "gamma": 10}}, num_classes=10, embedding_dim=64)
place(model, loss_fn, torch.device("cpu"))
opt = build_optimizer({"optimizer": "adam", "lr": 1e-3, "weight_decay": 4e-4, "betas": (0.9, 0.999), "momentum": 0.9}, model, loss_fn)
x = s.train_images[:80].float().div(255)
loss = loss_fn(model(x).float(), s.train_labels[:80])
opt.zero_grad(); loss.backward(); opt.step()
print("torchvision imported:", "torchvision" in sys.modules)
"""


def make_parts(precision: str) -> StepParts:
    torch.manual_seed(0)
    model = build_model({"name": "small-cnn", "embedding_dim": EMBEDDING}, in_channels=1, image_size=28)
    loss_fn = build_loss(LOSS, num_classes=CLASSES, embedding_dim=EMBEDDING)
    cpu = torch.device("cpu")
    place(model, loss_fn, cpu)
    return StepParts.create(model, loss_fn, build_optimizer(TRAIN, model, loss_fn), cpu, precision=precision)


def step(parts: StepParts, images: torch.Tensor, labels: torch.Tensor) -> None:
    """The training step of modbench's loop: forward under the run's autocast, loss in float32."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=parts.amp):
        embeddings = parts.forward(images)
    loss = parts.loss_fn(embeddings.float(), labels)
    parts.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    parts.optimizer.step()


def time_steps(parts, batches, steps: int) -> tuple[float, float]:
    """(wall ms, CPU ms) per step over ``steps`` steps."""
    w0, c0 = time.perf_counter(), time.process_time()
    for i in range(steps):
        images, labels = batches[i % len(batches)]
        step(parts, images, labels)
    return ((time.perf_counter() - w0) * 1e3 / steps, (time.process_time() - c0) * 1e3 / steps)


def bench_step(rounds: int, steps: int) -> dict:
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(BATCH, 1, 28, 28, generator=g).contiguous(memory_format=torch.channels_last),
                torch.arange(BATCH) % CLASSES) for _ in range(8)]
    parts = {p: make_parts(p) for p in ("float32", "bf16")}
    for p in parts.values():  # warm-up: oneDNN primitives, allocator
        time_steps(p, batches, 2)
    per = {p: [] for p in parts}
    ratios_wall, ratios_cpu = [], []
    for r in range(rounds):
        order = ("float32", "bf16") if r % 2 == 0 else ("bf16", "float32")
        this = {p: time_steps(parts[p], batches, steps) for p in order}
        for p in parts:
            per[p].append(this[p])
        ratios_wall.append(this["float32"][0] / this["bf16"][0])
        ratios_cpu.append(this["float32"][1] / this["bf16"][1])
    med = {p: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for p, v in per.items()}
    return {
        "float32_wall_ms": med["float32"][0], "float32_cpu_ms": med["float32"][1],
        "bf16_wall_ms": med["bf16"][0], "bf16_cpu_ms": med["bf16"][1],
        "speedup_wall": statistics.median(ratios_wall), "speedup_cpu": statistics.median(ratios_cpu),
        "rounds": rounds, "steps_per_round": steps,
    }


def one_start(variant: str, data_dir: str) -> tuple[float, float, bool]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    w0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", STARTUP, variant, data_dir], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - w0
    out, err = proc.stdout.read(), proc.stderr.read()
    if status != 0:
        raise SystemExit(f"start-up probe failed: {err[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, "torchvision imported: True" in out


def bench_startup(starts: int, data_dir: str) -> dict:
    per = {"before": [], "after": []}
    for r in range(starts):
        for v in (("before", "after") if r % 2 == 0 else ("after", "before")):
            per[v].append(one_start(v, data_dir))
    out = {}
    for v, runs in per.items():
        out[f"{v}_wall_s"] = statistics.median(w for w, _, _ in runs)
        out[f"{v}_cpu_s"] = statistics.median(c for _, c, _ in runs)
        out[f"{v}_torchvision"] = runs[0][2]
    out["starts"] = starts
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--starts", type=int, default=3)
    ap.add_argument("--data-dir", default="", help="Fashion-MNIST folder [default: Debian's]")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    backend.configure(torch.device("cpu"))
    machine = {"cpu_model": backend.cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
               "native_bf16": backend.cpu_bf16_supported(), "threads": torch.get_num_threads(),
               "torch": torch.__version__}
    result = {"machine": machine, "step": bench_step(args.rounds, args.steps),
              "startup": bench_startup(args.starts, args.data_dir)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    m, s, u = machine, result["step"], result["startup"]
    print(f"CPU: {m['cpu_model']} ({m['cpu_capability']}), {m['threads']} thread(s), torch {m['torch']}; "
          f"native bf16: {'yes' if m['native_bf16'] else 'no (modbench refuses precision: bf16 here; the bf16 row is emulation)'}")
    print(f"\ntraining step, small-cnn 1x28x28, batch {BATCH}, embedding {EMBEDDING} "
          f"(median of {s['rounds']} rounds x {s['steps_per_round']} steps)")
    print(f"{'precision':<10} {'wall ms/step':>13} {'CPU ms/step':>12}")
    for p in ("float32", "bf16"):
        print(f"{p:<10} {s[p + '_wall_ms']:>13.2f} {s[p + '_cpu_ms']:>12.2f}")
    print(f"bf16 speed-up (float32 / bf16, median of per-round ratios): wall {s['speedup_wall']:.2f}x, "
          f"CPU {s['speedup_cpu']:.2f}x")
    print(f"\nstart-up, process start to end of the first training step (median of {u['starts']})")
    print(f"{'variant':<34} {'wall s':>7} {'CPU s':>7}")
    print(f"{'before (torchvision imported)':<34} {u['before_wall_s']:>7.2f} {u['before_cpu_s']:>7.2f}")
    print(f"{'after (torchvision not imported)':<34} {u['after_wall_s']:>7.2f} {u['after_cpu_s']:>7.2f}")
    print(f"saved: wall {u['before_wall_s'] - u['after_wall_s']:.2f} s, CPU {u['before_cpu_s'] - u['after_cpu_s']:.2f} s"
          f"; after imports torchvision: {u['after_torchvision']}")


if __name__ == "__main__":
    main()
