"""Process-wide settings for fast training on one device: CPU threads, cuDNN autotuning, and
the memory layout the network runs in.

``configure(device)`` is called once per process by ``Runner`` (and by the benchmarks, which
must time the same set-up as ``modbench train``).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


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


def cpu_quota() -> int | None:
    """The CPUs a container may use (cgroup v2 ``cpu.max`` or v1 CFS quota), rounded up; None
    when unlimited or unknown."""
    for path, parse in (
        ("/sys/fs/cgroup/cpu.max", lambda t: t.split()[:2]),
        ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", lambda t: [t.strip(), None]),
    ):
        try:
            quota, period = parse(Path(path).read_text())
            if period is None:
                period = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text().strip()
        except (OSError, ValueError, IndexError):
            continue
        if quota in ("max", "-1"):
            return None
        try:
            return max(1, -(-int(quota) // int(period)))
        except (ValueError, ZeroDivisionError):
            return None
    return None


def default_threads() -> int:
    """Physical cores this process may use, capped by a container's CPU quota."""
    quota = cpu_quota()
    return min(physical_cores(), quota) if quota else physical_cores()


def configure_threads() -> int:
    """Intra-op threads = physical cores (capped by a container's CPU quota), unless the user
    chose with OMP_NUM_THREADS or MKL_NUM_THREADS (which torch already honours). Returns the
    thread count in use.

    Hyper-threads share a core's vector units, so more threads than cores only adds
    synchronisation; on a machine shared with other jobs, OMP_NUM_THREADS=1 per process is
    often the better choice (docs/benchmarks.md).
    """
    if not any(os.environ.get(name) for name in THREAD_ENV):
        torch.set_num_threads(default_threads())
    return torch.get_num_threads()


def env_threads() -> int | None:
    """The thread count the user chose with OMP_NUM_THREADS or MKL_NUM_THREADS, if any."""
    for name in THREAD_ENV:
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def run_threads(suite_threads: int | None = None, requested: int | None = None) -> int:
    """The intra-op CPU threads of one run: the suite's ``train.cpu_threads``, else ``--threads``,
    else OMP_NUM_THREADS / MKL_NUM_THREADS, else the physical cores (``default_threads``). The same
    number whether the run trains alone or in a ``--jobs`` worker, so the numbers are the same."""
    return suite_threads or requested or env_threads() or default_threads()


def autocast_bf16(device: torch.device, precision: str | None = "float32") -> bool:
    """Whether the network trains under bf16 autocast: always on CUDA; on the CPU with the
    run's ``train.precision: bf16``."""
    return device.type == "cuda" or precision == "bf16"


def numerics(device: torch.device, threads: int, precision: str | None = "float32") -> dict:
    """What besides the code and the configuration changes a run's numbers (modbench/identity.py):
    device type, precision (bf16 autocast on CUDA; on the CPU float32, or bf16 autocast with
    ``train.precision: bf16``) and, on the CPU, the intra-op thread count (reductions split
    differently)."""
    cuda = device.type == "cuda"
    return {
        "device": device.type,
        "precision": "bf16-autocast" if autocast_bf16(device, precision) else "float32",
        "cpu_threads": None if cuda else int(threads),
    }


def cpu_bf16_supported() -> bool:
    """torch's own answer to whether this CPU computes bf16 natively in oneDNN (AVX-512 BF16,
    AMX, or the equivalent on ARM). Without it bf16 autocast is emulated and slower than float32."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without the query: no claim of support
        return False


def check_precision(device: torch.device, precision: str | None) -> None:
    """Refuse (UserError, one line) bf16 training on a CPU without bf16 support."""
    if precision == "bf16" and device.type == "cpu" and not cpu_bf16_supported():
        from modbench.errors import UserError

        raise UserError(
            f"train.precision: bf16 needs a CPU with bf16 support (torch reports none on this "
            f"one, {cpu_model()}); use precision float32 or a machine with AVX-512 BF16 or AMX"
        )


def cpu_model() -> str:
    """The CPU model as /proc/cpuinfo names it ('unknown CPU' where it cannot be read)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":")[0].strip() in ("model name", "Model"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def configure(device: torch.device) -> None:
    """Once per process, before training on ``device``."""
    if device.type == "cuda":
        # Fixed input shapes: let cuDNN time its algorithms once and keep the fastest. (Not
        # bit-reproducible across processes on CUDA; the CPU path stays deterministic.)
        torch.backends.cudnn.benchmark = True
    else:
        configure_threads()


def channels_last(device: torch.device) -> bool:
    """Whether the network runs in channels-last (NHWC) memory layout on ``device``: the layout
    of tensor cores on CUDA, and of oneDNN's fastest convolutions on x86 CPUs."""
    return device.type in ("cuda", "cpu")
