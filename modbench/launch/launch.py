"""Which runs to launch, and on what: the one entry point the command line calls."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modbench.cache.reuse import run_threads
from modbench.cache.store import RunStore
from modbench.errors import UserError
from modbench.launch.events import LaunchObserver
from modbench.launch.local import run_pool
from modbench.launch.options import LaunchOptions
from modbench.launch.worker import WorkerSettings

# Imports inside functions here: torch (the device count) and the SLURM launcher (submitit,
# optional) are imported by the launcher that needs them; tests stand a local executor in for
# SLURM through modbench.launch.slurm.


@dataclass(frozen=True)
class JobResult:
    """What became of one launched run (its result itself is in the cache)."""

    run: Any  # RunSpec
    status: str  # "trained" | "cached" | "failed" (non-finite, failed.json) | "error" (the job)
    message: str | None = None
    exit_code: int = 1
    log: str | None = None


def _devices_for(options: LaunchOptions, device: str) -> tuple[tuple[int, ...] | None, str]:
    """The CUDA devices of the local pool's slots (None: CPU shares) and the workers' --device."""
    import torch

    cuda = torch.cuda.is_available()
    if options.devices is not None:
        if device == "cpu":
            raise UserError("--devices lists CUDA devices; leave it out with --device cpu")
        if not cuda:
            raise UserError(
                f"--devices {','.join(map(str, options.devices))}: no CUDA device is available here; "
                "leave --devices out to share the CPU cores"
            )
        count = torch.cuda.device_count()
        bad = [d for d in options.devices if d >= count]
        if bad:
            raise UserError(f"--devices: there is no CUDA device {bad[0]} (this machine has {count}: 0..{count - 1})")
        return options.devices, "cuda"
    if device == "cuda" and not cuda:
        raise UserError("--device cuda: no CUDA device is available here; use --device cpu or auto")
    if device in ("cuda", "auto") and cuda:
        return tuple(range(torch.cuda.device_count())), "cuda"
    return None, "cpu"


def preflight(options: LaunchOptions) -> None:
    """Refuse what cannot work before anything starts: submitit missing, no sbatch, bad devices."""
    if options.launcher == "local":
        _devices_for(options, options.device)
    elif options.launcher == "slurm":
        from modbench.launch.slurm import check_cluster

        check_cluster("slurm")


def launch_missing(
    runs: list,
    eval_cfg: dict,
    *,
    cache_root: Path,
    data_dir: Path | None,
    download: bool,
    options: LaunchOptions,
    force: bool,
    observer: LaunchObserver | None = None,
    poll_s: float | None = None,
) -> dict[str, JobResult]:
    """Train the runs the cache lacks in other processes (``options.launcher``); returns what
    became of each launched run, by key. Finished runs are not touched. Every run trains with its
    own ``train.cpu_threads`` (part of its key), as it would in one process."""
    observer = observer or LaunchObserver()
    todo = RunStore(cache_root).pending(runs, force=force)
    if not todo:
        return {}
    preflight(options)
    root = str(Path(cache_root).expanduser().resolve())
    data = str(Path(data_dir).expanduser().resolve()) if data_dir is not None else None
    if options.launcher == "local":
        # The workers start with the largest count a run asks for (the Runner sets each run's
        # own count before it trains); never the pool's share of the cores.
        threads = max(run_threads(run.config) for run in todo)
        devices, child_device = _devices_for(options, options.device)
        settings = WorkerSettings(root, data, download, child_device, threads)
        summaries = run_pool(
            todo, eval_cfg, settings, jobs=options.jobs, devices=devices, force=force, observer=observer
        )
    elif options.launcher == "slurm":
        from modbench.launch.slurm import run_submitit

        folder = options.log_dir or Path(root) / "slurm"
        # On the nodes "auto" picks the job's GPU when it was given one (--gpus-per-job); each
        # run trains with its own train.cpu_threads, as anywhere else.
        settings = WorkerSettings(root, data, download, options.device)
        summaries = run_submitit(
            todo, eval_cfg, settings, resources=options.slurm, folder=Path(folder), cluster="slurm",
            force=force, observer=observer, poll_s=poll_s or 10.0,
        )
    else:
        raise ValueError(f"launcher {options.launcher!r} does not launch processes")
    return _job_results(todo, summaries)


def _job_results(todo: list, summaries: dict[str, dict]) -> dict[str, JobResult]:
    by_key = {run.key: run for run in todo}
    return {
        key: JobResult(
            run=by_key[key],
            status=s["status"],
            message=s.get("message") or _failure_text(s.get("failure")),
            exit_code=int(s.get("exit_code", 1)),
            log=s.get("log"),
        )
        for key, s in summaries.items()
    }


def _failure_text(failure: dict | None) -> str | None:
    if not failure:
        return None
    return f"failed at epoch {failure.get('epoch', '?')}, step {failure.get('step', '?')}: {failure.get('reason', '?')}"
