"""Process-wide settings for fast training on one device: cuDNN autotuning and the memory
layout the network runs in; the numerics a run computes with.

The CPU thread count is not chosen here: each run's configuration fixes it
(``train.cpu_threads``, default 1; ``cache/reuse.py``) and the Runner sets it before every run,
never from OMP_NUM_THREADS or the core count, so that a run's identity does not depend on the
shell it was started from.

``configure(device)`` is called once per process by ``Runner`` (and by the benchmarks, which
must time the same set-up as ``modbench train``).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from modbench.cache.reuse import run_numerics


def physical_cores() -> int:
    """Cores (not hyper-threads) among the CPUs this process may run on; falls back to the
    number of usable CPUs where the topology cannot be read."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = list(range(os.cpu_count() or 1))
    cores = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            siblings = (topology / "thread_siblings_list").read_text().strip()
            package = (topology / "physical_package_id").read_text().strip()
        except OSError:
            return max(1, len(cpus))
        cores.add((package, siblings))
    return max(1, len(cores))


def numerics(device: torch.device, config: dict) -> dict:
    """The numerics a run of ``config`` computes with on ``device`` (``cache/reuse.py``:
    device type, precision, and the run's own ``train.cpu_threads``)."""
    return run_numerics(config, device.type)


def configure(device: torch.device) -> None:
    """Once per process, before training on ``device``."""
    if device.type == "cuda":
        # Fixed input shapes: let cuDNN time its algorithms once and keep the fastest. (Not
        # bit-reproducible across processes on CUDA; the CPU path stays deterministic.)
        torch.backends.cudnn.benchmark = True


def channels_last(device: torch.device) -> bool:
    """Whether the network runs in channels-last (NHWC) memory layout on ``device``: the layout
    of tensor cores on CUDA, and of oneDNN's fastest convolutions on x86 CPUs."""
    return device.type in ("cuda", "cpu")
