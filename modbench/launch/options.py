"""The launcher flags, checked together: one ``UserError`` line for any combination that makes
no sense. Imports neither torch nor submitit."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from modbench.errors import UserError

# "inline": the runs one after another in this process (the default).
# "local": a pool of --jobs worker processes on this machine.
# "slurm": one SLURM job per run through submitit.
LAUNCHERS = ("inline", "local", "slurm")

DEFAULT_TIME_MIN = 24 * 60  # submitit's own default (5 minutes) would kill any real run
DEFAULT_GPUS_PER_JOB = 1


@dataclass(frozen=True)
class SlurmResources:
    """What each SLURM job asks for. ``None`` leaves the cluster's default."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    gpus_per_job: int = DEFAULT_GPUS_PER_JOB
    cpus_per_job: int | None = None
    mem_gb: float | None = None
    time_min: int = DEFAULT_TIME_MIN

    def submitit_parameters(self) -> dict:
        """``AutoExecutor.update_parameters`` keywords (``slurm_*`` ones are ignored elsewhere)."""
        params: dict = {"timeout_min": self.time_min, "gpus_per_node": self.gpus_per_job, "nodes": 1, "tasks_per_node": 1}
        if self.cpus_per_job is not None:
            params["cpus_per_task"] = self.cpus_per_job
        if self.mem_gb is not None:
            params["mem_gb"] = self.mem_gb
        for name in ("partition", "account", "qos", "constraint"):
            value = getattr(self, name)
            if value is not None:
                params[f"slurm_{name}"] = value
        return params


@dataclass(frozen=True)
class LaunchOptions:
    launcher: str = "inline"
    jobs: int = 1
    devices: tuple[int, ...] | None = None  # CUDA device indices for --launcher local
    slurm: SlurmResources = field(default_factory=SlurmResources)
    log_dir: Path | None = None  # submitit's folder (job scripts, pickles, logs)
    device: str = "auto"  # --device as given: "auto", "cpu" or "cuda"

    @property
    def elsewhere(self) -> bool:
        """Runs train in other processes (not in this one)."""
        return self.launcher != "inline"


def under_torchrun() -> bool:
    """Started by torchrun with more than one process (its environment variables)."""
    world = os.environ.get("WORLD_SIZE", "1")
    return "RANK" in os.environ and world.isdigit() and int(world) > 1


def parse_devices(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        raise UserError(f"--devices {text}: give CUDA device indices separated by commas, e.g. --devices 0,1")
    devices = tuple(int(p) for p in parts)
    if len(set(devices)) != len(devices):
        raise UserError(f"--devices {text}: a device is listed twice")
    return devices


def launch_options(
    *,
    launcher: str | None,
    jobs: int | None,
    devices: str | None,
    partition: str | None = None,
    gpus_per_job: int | None = None,
    time_min: int | None = None,
    slurm_log_dir: Path | None = None,
    suite_slurm=None,  # the suite's ``slurm:`` section (schema.SlurmConfig) or None
    device: str = "auto",
) -> LaunchOptions:
    """The launch flags of ``train`` and ``compare``, checked; flags override the suite's
    ``slurm:`` section."""
    device_list = parse_devices(devices)
    chosen = launcher or ("local" if (jobs and jobs > 1) or device_list else "inline")
    if chosen not in LAUNCHERS:
        raise UserError(f"--launcher {launcher}: choose {', '.join(LAUNCHERS)}")
    slurm_flags = {"--partition": partition, "--gpus-per-job": gpus_per_job, "--time-min": time_min, "--slurm-log-dir": slurm_log_dir}
    submitit = chosen == "slurm"
    if not submitit:
        given = [name for name, value in slurm_flags.items() if value is not None]
        if given:
            raise UserError(f"{given[0]} applies to --launcher slurm only")
    if submitit and (jobs is not None or device_list is not None):
        flag = "--jobs" if jobs is not None else "--devices"
        raise UserError(f"{flag} applies to --launcher local; with --launcher slurm every run is its own job")
    if chosen != "inline" and under_torchrun():
        raise UserError(
            "--jobs/--launcher start their own processes: run them without torchrun "
            "(torchrun is for one run across processes)"
        )
    n_jobs = jobs if jobs is not None else (len(device_list) if device_list else 1)
    resources = SlurmResources()
    if submitit:
        base = suite_slurm.model_dump() if suite_slurm is not None else {}
        base = {k: v for k, v in base.items() if v is not None}
        if partition is not None:
            base["partition"] = partition
        if gpus_per_job is not None:
            base["gpus_per_job"] = gpus_per_job
        if time_min is not None:
            base["time_min"] = time_min
        resources = SlurmResources(**base)
    return LaunchOptions(
        launcher=chosen,
        jobs=n_jobs,
        devices=device_list,
        slurm=resources,
        log_dir=Path(slurm_log_dir).expanduser() if slurm_log_dir is not None else None,
        device=device,
    )


def cpu_share(jobs: int, slot: int) -> tuple[int, list[int] | None]:
    """Threads and the cores (Linux affinity) for worker ``slot`` of ``jobs``: disjoint shares
    of this process's cores, never more threads than ``OMP_NUM_THREADS`` when it is set."""
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = list(range(os.cpu_count() or 1))
    per = max(1, len(cores) // jobs)
    if jobs <= len(cores):
        mine = cores[slot * per : (slot + 1) * per]
    else:
        mine = [cores[slot % len(cores)]]
    threads = len(mine)
    omp = os.environ.get("OMP_NUM_THREADS", "")
    if omp.isdigit() and int(omp) > 0:
        threads = min(threads, int(omp))
    return threads, mine if hasattr(os, "sched_setaffinity") else None
