"""Training throughput, three ways, in one process: same model, batch size and number of steps.

(a) limit         the compute limit: forward, loss, backward and optimizer step on batches that
                  are already on the device, normalised and augmented; nothing else.
(b) modbench      modbench's own epoch loop, the code ``modbench train`` runs for each epoch
                  (``modbench.engine.loop.run_epoch``: seeding, sampler, crops and flips on the
                  device, the step, finiteness checks, progress to a live Rich display), with the
                  same model, loss and optimizer builders and the same device set-up
                  (``backend.configure``). Per-epoch validation and checkpointing are not in it.
(c) conventional  the usual pipeline: the torchvision dataset object (CIFAR10 reading the same
                  CIFAR-format files; for digits an MNIST-style dataset over the same uint8
                  images) with PIL transforms (RandomCrop(32, padding=4), RandomHorizontalFlip,
                  ToTensor, Normalize for CIFAR; ToTensor, Normalize for digits, which modbench
                  does not augment), through ``torch.utils.data.DataLoader(shuffle=True,
                  drop_last=True, num_workers=K)`` with K as a user sets it (``--num-workers``;
                  default 2 on a CPU-only machine, the common CIFAR-script setting; min(8, CPUs)
                  with CUDA), pin_memory on CUDA; then exactly the step of (a). No per-step
                  ``loss.item()``, which most scripts add: this favours (c).

Cases: ``small-cnn`` on scikit-learn's digits (the real data, the digits suite's settings:
batch 128, embedding 64), and ``resnet18`` (modbench's: torchvision's ResNet-18 with the CIFAR
stem, 3x3 conv and no max-pool; embedding 128) on a synthetic CIFAR-10-format fixture
written by ``scripts/fixture_data.py`` (32x32 RGB, crop-flip augmentation). Loss: the paper's
loss (``improved``, beta 4, gamma 5); optimizer: Adam as built by modbench.

Each pipeline runs its warm-up (excluded), then ``--rounds`` rounds in which (a), (b) and (c)
each run ``--epochs`` epochs of the same number of steps, interleaved (in the order a b c, then
c b a, alternately) so that load from other jobs hits all three alike; reported: the median over rounds of images per second, and for the
ratios the median over rounds of each round's ratio (robust to load that changes between rounds).

    python benchmarks/train_speed.py [--device cpu|cuda] [--case small-cnn|resnet18] [--json]

``--json`` prints a JSON list, one object per case: case, device, limit_img_s, modbench_img_s,
conventional_img_s (and the settings and machine). Without it: a table with the ratios.
Goals (issue 5): (b)/(a) >= 0.95 and (b)/(c) >= 1.0 on CPU; on a GPU (b)/(a) >= 0.9, (b)/(c) >= 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch

from modbench.engine import backend
from modbench.engine.device_data import DeviceData
from modbench.engine.loop import StepParts, place, plan_epoch, run_epoch
from modbench.engine.model import build_model
from modbench.engine.train import build_loss, build_optimizer

LOSS = {"name": "improved", "params": {"beta": 4.0, "gamma": 5.0}}
GOALS = {"cpu": (0.95, 1.0), "cuda": (0.9, 2.0)}  # (b)/(a), (b)/(c)


@dataclass
class Case:
    name: str
    backbone: str
    embedding_dim: int
    batch_size: int
    steps: int  # per epoch
    epochs: int  # per measured round
    warmup_epochs: int


def default_cases(device: str) -> dict[str, Case]:
    # Rounds last seconds, so that starting and stopping (b)'s live display (once per round
    # here, once per command in ``modbench train``) is a negligible part of them.
    if device == "cuda":
        return {
            "small-cnn": Case("small-cnn/digits", "small-cnn", 64, 128, 10, 50, 5),
            "resnet18": Case("resnet18/cifar10-format", "resnet18", 128, 512, 20, 5, 1),
        }
    return {
        "small-cnn": Case("small-cnn/digits", "small-cnn", 64, 128, 10, 20, 2),
        "resnet18": Case("resnet18/cifar10-format", "resnet18", 128, 64, 4, 1, 1),
    }


# -- data ---------------------------------------------------------------------------------


def digits_data(device: torch.device):
    from modbench.engine.device_data import load_splits

    splits = load_splits({"name": "digits", "val_fraction": 0.1, "split_seed": 0}, data_dir=None, download=False)
    return DeviceData(splits, device), DigitsPIL(splits.train_images, splits.train_labels), splits


class DigitsPIL(torch.utils.data.Dataset):
    """What torchvision's MNIST does per item: a PIL image from the uint8 array, then the
    transform."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform=None):
        self.images, self.labels, self.transform = images[:, 0].numpy(), labels.tolist(), transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        from PIL import Image

        img = Image.fromarray(self.images[i])  # uint8 HxW: mode "L"
        return (self.transform(img) if self.transform else img), self.labels[i]


def cifar_data(device: torch.device, root: Path, train_images: int):
    """A CIFAR-10-format fixture with at least ``train_images`` in modbench's train split; the
    modbench splits and torchvision's CIFAR10 object over the same files."""
    from modbench.datasets import DATASETS
    from modbench.datasets._torchvision import read_manifest
    from modbench.datasets.cifar import CheckedCIFAR10
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))  # the fixture writer
    from fixture_data import write_cifar10

    per_class = math.ceil(train_images / 10 / 0.9) + 1
    write_cifar10(root, per_class=per_class, test_per_class=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "fixture files": known, synthetic on purpose
        splits = DATASETS.get("cifar10")(data_dir=root, download=False, val_fraction=0.1, split_seed=0,
                                         subset=None, labels=None)
        tv = CheckedCIFAR10(root, True, read_manifest(root / "cifar-10-batches-py"))
    return DeviceData(splits, device), tv, splits


def conventional_transform(augment: bool, mean, std):
    from torchvision import transforms as T

    steps = [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()] if augment else []
    return T.Compose([*steps, T.ToTensor(), T.Normalize(mean, std)])


# -- model --------------------------------------------------------------------------------


def make_model(case: Case, splits) -> torch.nn.Module:
    """The backbone from modbench's registry plus the embedding head, as ``train_run`` builds it."""
    cfg = {"name": case.backbone, "embedding_dim": case.embedding_dim}
    return build_model(cfg, in_channels=splits.channels, image_size=splits.image_size)


def make_parts(case: Case, splits, train_cfg, device: torch.device) -> StepParts:
    """Model, loss and optimizer exactly as ``train_run`` builds and places them (seed 0)."""
    torch.manual_seed(0)
    model = make_model(case, splits)
    loss_fn = build_loss(LOSS, num_classes=splits.num_classes, embedding_dim=case.embedding_dim)
    place(model, loss_fn, device)
    optimizer = build_optimizer(train_cfg, model, loss_fn)
    return StepParts.create(model, loss_fn, optimizer, device, compile=train_cfg["compile"])


def step(parts: StepParts, images: torch.Tensor, labels: torch.Tensor) -> None:
    """The bare step of (a) and (c): forward, loss, backward, optimizer step."""
    with torch.autocast(parts.device.type, dtype=torch.bfloat16, enabled=parts.amp):
        embeddings = parts.forward(images)
    loss = parts.loss_fn(embeddings.float(), labels)
    parts.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    parts.optimizer.step()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


# -- the three pipelines ------------------------------------------------------------------


class Pipelines:
    def __init__(self, case: Case, device: torch.device, num_workers: int, tmp: Path, compile: bool):
        self.case, self.device = case, device
        self.train_cfg = {
            "epochs": 1, "batch_size": case.batch_size, "optimizer": "adam", "lr": 1e-3,
            "weight_decay": 4e-4, "betas": [0.9, 0.999], "momentum": 0.9, "sampler": "random", "m": 4,
            "select": "last", "compile": compile,
        }
        if case.backbone == "small-cnn" and case.name.endswith("digits"):
            self.data, self.tv, splits = digits_data(device)
        else:
            self.data, self.tv, splits = cifar_data(device, tmp, case.steps * case.batch_size)
        n = len(self.data.train_y)
        self.steps = n // case.batch_size  # modbench's epoch: all of its train split
        if self.steps < 1:
            raise SystemExit(f"{case.name}: {n} training images, fewer than one batch")
        augment = self.data.augment != "none"
        self.tv.transform = conventional_transform(augment, splits.mean, splits.std)
        # (c) sees as many images per epoch as modbench's train split has: same steps, drop_last.
        subset = torch.utils.data.Subset(self.tv, range(min(len(self.tv), n)))
        self.loader = torch.utils.data.DataLoader(
            subset, batch_size=case.batch_size, shuffle=True, drop_last=True, num_workers=num_workers,
            pin_memory=device.type == "cuda",
        )
        assert len(self.loader) == self.steps, (len(self.loader), self.steps)
        self.parts = {k: make_parts(case, splits, self.train_cfg, device) for k in ("limit", "modbench", "conventional")}
        # (a): the epoch's batches, augmented and normalised once, in the network's layout.
        plan = plan_epoch(self.data, self.train_cfg, torch.Generator().manual_seed(0))
        layout = torch.channels_last if self.parts["limit"].channels_last else torch.contiguous_format
        self.ready = []
        for i in range(plan.steps):
            crop = (plan.rows[i], plan.cols[i]) if plan.rows is not None else ()
            images = self.data.train_batch(plan.batches[i], *crop).contiguous(memory_format=layout)
            self.ready.append((images, plan.labels[i]))
        self.epoch = 0
        self.display = True

    def limit(self, epochs: int) -> None:
        parts = self.parts["limit"]
        for _ in range(epochs):
            for images, labels in self.ready:
                step(parts, images, labels)
        sync(self.device)

    def modbench(self, epochs: int) -> None:
        from rich.console import Console

        from modbench.render.progress import RichObserver

        if not self.display:
            for _ in range(epochs):
                run_epoch(self.parts["modbench"], self.data, self.train_cfg, seed=0, epoch=self.epoch)
                self.epoch += 1
            sync(self.device)
            return
        # The progress display ``modbench train`` shows (a live Rich display refreshing on its
        # own thread), rendered into /dev/null as if it were a terminal.
        with open(os.devnull, "w") as devnull:
            console = Console(file=devnull, force_terminal=True, width=120)
            with RichObserver(1, console=console) as observer:
                observer.run_start(SimpleNamespace(label="bench", seed=0, key="bench", loss="cross-entropy"), start_epoch=0,
                                   epochs=epochs, steps_per_epoch=self.steps)
                for _ in range(epochs):
                    result = run_epoch(self.parts["modbench"], self.data, self.train_cfg, seed=0,
                                       epoch=self.epoch, observer=observer)
                    assert result.bad_step is None and result.steps == self.steps
                    self.epoch += 1
        sync(self.device)

    def conventional(self, epochs: int) -> None:
        parts = self.parts["conventional"]
        layout = torch.channels_last if parts.channels_last else torch.contiguous_format
        for _ in range(epochs):
            for images, labels in self.loader:
                images = images.to(self.device, non_blocking=True).contiguous(memory_format=layout)
                labels = labels.to(self.device, non_blocking=True)
                step(parts, images, labels)
        sync(self.device)


def measure(case: Case, device: torch.device, rounds: int, num_workers: int, compile: bool,
            display: bool = True) -> dict:
    with tempfile.TemporaryDirectory(prefix="modbench-train-speed-") as tmp:
        p = Pipelines(case, device, num_workers, Path(tmp), compile)
        p.display = display
        runs = {"limit": p.limit, "modbench": p.modbench, "conventional": p.conventional}
        for fn in runs.values():  # warm-up: allocator, cuDNN autotuning, compilation, workers
            fn(case.warmup_epochs)
        rates: dict[str, list[float]] = {k: [] for k in runs}
        cpu_rates: dict[str, list[float]] = {k: [] for k in runs}
        images = case.epochs * p.steps * case.batch_size
        for r in range(rounds):
            # Alternate the order (a b c, then c b a): drift in the machine's load during a
            # round then favours no pipeline over the rounds.
            order = list(runs.items()) if r % 2 == 0 else list(reversed(runs.items()))
            for name, fn in order:
                c0, t0 = time.process_time(), time.perf_counter()
                fn(case.epochs)
                rates[name].append(images / (time.perf_counter() - t0))
                cpu_rates[name].append(images / max(time.process_time() - c0, 1e-9))
    med = {k: statistics.median(v) for k, v in rates.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpu_rates.items()}
    return {
        "case": case.name,
        "device": device.type,
        "limit_img_s": round(med["limit"], 1),
        "modbench_img_s": round(med["modbench"], 1),
        "conventional_img_s": round(med["conventional"], 1),
        # Ratios: median over rounds of the ratio within each round (the three pipelines of a
        # round ran back to back, under the same load from other jobs).
        "modbench_vs_limit": round(paired_ratio(rates["modbench"], rates["limit"]), 3),
        "modbench_vs_conventional": round(paired_ratio(rates["modbench"], rates["conventional"]), 3),
        "batch_size": case.batch_size,
        "steps_per_round": case.epochs * p.steps,
        "rounds": rounds,
        "num_workers": num_workers,
        "threads": torch.get_num_threads(),
        "compile": compile,
        "progress_display": display,
        "all_img_s": {k: [round(r, 1) for r in v] for k, v in rates.items()},
        # Images per second of this process's CPU time (all its threads; not the DataLoader
        # workers of (c)): the work each loop does, little affected by other jobs on the machine.
        "limit_img_per_cpu_s": round(cpu_med["limit"], 1),
        "modbench_img_per_cpu_s": round(cpu_med["modbench"], 1),
    }


def paired_ratio(num: list[float], den: list[float]) -> float:
    return statistics.median(n / d for n, d in zip(num, den))


def machine(device: torch.device) -> dict:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info = {"cpus": os.cpu_count(), "physical_cores": backend.physical_cores(), "cpu_model": cpu,
            "torch": torch.__version__, "load_average_1min": round(os.getloadavg()[0], 2)}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--case", action="append", choices=["small-cnn", "resnet18"],
                        help="repeatable; default: both")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (median reported)")
    parser.add_argument("--epochs", type=int, help="epochs per pipeline per round (default: per case)")
    parser.add_argument("--batch-size", type=int, help="default: per case")
    parser.add_argument("--num-workers", type=int, help="DataLoader workers of (c) [2 on CPU, min(8, CPUs) with CUDA]")
    parser.add_argument("--compile", action="store_true", help="train.compile: true (torch.compile) for all three")
    parser.add_argument("--no-display", action="store_true",
                        help="(b) without the live progress display (to measure what the display costs)")
    parser.add_argument("--json", action="store_true", help="a JSON list on stdout, one object per case")
    args = parser.parse_args()

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here")
    backend.configure(device)  # what Runner does for ``modbench train``
    workers = args.num_workers if args.num_workers is not None else (
        2 if device.type == "cpu" else min(8, os.cpu_count() or 1))
    cases = default_cases(device.type)
    results = []
    for key in args.case or list(cases):
        case = cases[key]
        if args.epochs:
            case.epochs = args.epochs
        if args.batch_size:
            case.batch_size = args.batch_size
        print(f"measuring {case.name} on {device.type} ...", file=sys.stderr, flush=True)
        results.append({**measure(case, device, args.rounds, workers, args.compile, not args.no_display),
                        "machine": machine(device)})
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print_table(results)


def print_table(results: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    m = results[0]["machine"]
    title = (f"Training throughput, images/s (median of {results[0]['rounds']} rounds); {m['cpus']} CPUs "
             f"({m['cpu_model']}), {results[0]['threads']} torch threads, torch {m['torch']}"
             + (f", {m['gpu']}" if "gpu" in m else "") + f", load average {m['load_average_1min']}")
    table = Table(title=title, title_justify="left")
    for col in ("case", "device", "batch", "steps", "(a) limit", "(b) modbench", "(c) conventional",
                "(b)/(a)", "(b)/(c)"):
        table.add_column(col, justify="left" if col in ("case", "device") else "right")
    for r in results:
        ga, gc = GOALS[r["device"]]
        ok_a = "ok" if r["modbench_vs_limit"] >= ga else f"< {ga}"
        ok_c = "ok" if r["modbench_vs_conventional"] >= gc else f"< {gc}"
        table.add_row(r["case"], r["device"], str(r["batch_size"]), str(r["steps_per_round"]),
                      f"{r['limit_img_s']:,.0f}", f"{r['modbench_img_s']:,.0f}", f"{r['conventional_img_s']:,.0f}",
                      f"{r['modbench_vs_limit']:.3f} {ok_a}", f"{r['modbench_vs_conventional']:.2f} {ok_c}")
    Console(width=max(Console().width, 140)).print(table)
    print(f"(c) uses DataLoader num_workers={results[0]['num_workers']}; goals: (b)/(a) >= "
          f"{GOALS[results[0]['device']][0]}, (b)/(c) >= {GOALS[results[0]['device']][1]}")


if __name__ == "__main__":
    main()
