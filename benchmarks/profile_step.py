"""Where a training step's time goes: torch.profiler over (a) the bare step and (b) modbench's
epoch loop (see train_speed.py), per step, by operator.

    python benchmarks/profile_step.py [--case small-cnn|resnet18] [--device cpu|cuda] [--epochs 2]

Prints the operators by self time per step for (a), the operators on which (b) spends more
than (a) (what modbench's loop adds: gathering and normalising the batch, the gradient-norm
check, bookkeeping), and the loop's own cost per step measured directly: (a) and (b) with a
near-empty network in place of the backbone. Profiler times include the profiler's own overhead
and, on a shared machine, time the process was not scheduled: compare the columns, not absolute
numbers.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_speed  # noqa: E402  (the same pipelines the throughput benchmark times)

from modbench.engine import backend  # noqa: E402
from modbench.engine.events import Observer  # noqa: E402
from modbench.engine.loop import run_epoch  # noqa: E402


def per_step(prof, steps: int, device: str) -> dict[str, float]:
    """Self time per step, microseconds, by operator name."""
    out = {}
    for evt in prof.key_averages():
        t = evt.self_device_time_total if device == "cuda" else evt.self_cpu_time_total
        if t > 0:
            out[evt.key] = t / steps
    return out


class _Tiny(torch.nn.Module):
    """Almost no compute: what remains of a step is the loop's own cost."""

    def __init__(self, channels: int, dim: int):
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, 4, 3, padding=1)
        self.head = torch.nn.Linear(4, dim)

    def forward(self, x):
        return self.head(self.conv(x).mean((2, 3)))


def loop_overhead(p, device: torch.device, repeats: int = 30) -> tuple[float, float]:
    """Per-step time (us; CPU time on the CPU) of (a) and (b) with ``_Tiny`` in place of the
    backbone: the difference is what modbench's loop adds to every step."""
    import statistics

    from modbench.engine.loop import StepParts, place, train_epoch
    from modbench.engine.train import build_loss, build_optimizer

    def parts():
        torch.manual_seed(0)
        model = _Tiny(p.data.splits.channels, p.case.embedding_dim)
        loss_fn = build_loss(train_speed.LOSS, num_classes=p.data.splits.num_classes,
                             embedding_dim=p.case.embedding_dim)
        place(model, loss_fn, device)
        return StepParts.create(model, loss_fn, build_optimizer(p.train_cfg, model, loss_fn), device)

    pa, pb = parts(), parts()
    plan = train_speed.plan_epoch(p.data, p.train_cfg, torch.Generator().manual_seed(0))
    clock = time.process_time if device.type == "cpu" else time.perf_counter

    def a():
        for images, labels in p.ready:
            train_speed.step(pa, images, labels)
        train_speed.sync(device)

    def b():
        train_epoch(pb, p.data, plan, observer=Observer())
        train_speed.sync(device)

    ta, tb = [], []
    for fn, out in ((a, ta), (b, tb), (a, ta), (b, tb)):
        fn()
    for _ in range(repeats):
        for fn, out in ((a, ta), (b, tb)):
            t0 = clock()
            fn()
            out.append((clock() - t0) / p.steps * 1e6)
    return statistics.median(ta), statistics.median(tb)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=["small-cnn", "resnet18"], default="small-cnn")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    device = torch.device(args.device)
    backend.configure(device)
    case = train_speed.default_cases(device.type)[args.case]
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with tempfile.TemporaryDirectory() as tmp:
        p = train_speed.Pipelines(case, device, 0, Path(tmp), False)

        def modbench(epochs: int) -> None:  # (b) without the Rich display: the loop itself
            for _ in range(epochs):
                run_epoch(p.parts["modbench"], p.data, p.train_cfg, seed=0, epoch=p.epoch, observer=Observer())
                p.epoch += 1
            train_speed.sync(device)

        runs = {"(a) limit": p.limit, "(b) modbench loop": modbench}
        for fn in runs.values():
            fn(1)
        tables = {}
        for name, fn in runs.items():
            with profile(activities=activities) as prof:
                fn(args.epochs)
            tables[name] = per_step(prof, args.epochs * p.steps, device.type)
        tiny_a, tiny_b = loop_overhead(p, device)
    a, b = tables["(a) limit"], tables["(b) modbench loop"]
    unit = "device" if device.type == "cuda" else "CPU"
    print(f"{case.name} on {device.type}, {torch.get_num_threads()} threads: self {unit} time per step, us")
    print(f"{'operator':48s} {'(a)':>10s} {'(b)':>10s}")
    for key in sorted(a, key=a.get, reverse=True)[: args.top]:
        print(f"{key[:48]:48s} {a[key]:10.1f} {b.get(key, 0.0):10.1f}")
    print(f"{'total':48s} {sum(a.values()):10.1f} {sum(b.values()):10.1f}")
    print("\noperators on which (b) spends more than (a), us per step:")
    extra = {k: b[k] - a.get(k, 0.0) for k in b}
    for key in sorted(extra, key=extra.get, reverse=True)[: args.top]:
        if extra[key] > 0.5:
            print(f"{key[:48]:48s} {extra[key]:10.1f}")
    clock = "CPU time" if device.type == "cpu" else "wall time"
    print(f"\nloop overhead, same data and loss with a near-empty network ({clock}, median of 30 epochs):")
    print(f"  (a) {tiny_a:.0f} us per step, (b) {tiny_b:.0f} us per step: modbench's loop adds "
          f"{tiny_b - tiny_a:.0f} us per step")


if __name__ == "__main__":
    main()
