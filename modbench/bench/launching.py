"""``--jobs``/``--launcher``: train a plan's missing runs in other processes through an executor
(``executors.py``: one job per missing run, ``launch.slurm_job.TrainJob``), then read every
outcome back from the cache (as ``report`` does) and warn about jobs that died."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modbench.bench.executors import Job, executor_for
from modbench.cache.reuse import run_threads
from modbench.cache.store import RunStore
from modbench.errors import UserError
from modbench.launch.events import LaunchObserver
from modbench.launch.options import LaunchOptions
from modbench.launch.worker import WorkerSettings

# Imports inside functions here: torch (the device count) and the job callable (its SLURM
# requeue imports submitit) are imported when runs are launched.


@dataclass(frozen=True)
class JobResult:
    """What became of one launched run (its result itself is in the cache)."""

    run: Any  # RunSpec
    status: str  # "trained" | "cached" | "failed" (non-finite, failed.json) | "error" (the job)
    message: str | None = None
    exit_code: int = 1
    log: str | None = None


def launch_plan(p, runner, events, *, force: bool, launch) -> list:
    """The plan's outcomes after launching its missing runs (``launch``: LaunchOptions).

    Statuses: ``trained`` (by a job of this call), ``cached``, ``failed`` (a non-finite loss,
    recorded in the cache) and ``error`` (the job itself died; ``events.warning`` with its log).
    When every launched job stopped on the same user error (e.g. dataset files missing), the
    command ends with that one line (exit 2); otherwise each job error is a warning (exit 1).
    """
    jobs = {}
    if runner.store.pending(p.runs, force=force):
        preflight(launch)  # one-line errors before any progress is drawn
        with events.launching() as observer:
            jobs = launch_missing(
                p.runs, p.eval_cfg, cache_root=runner.store.root, data_dir=runner.data_dir,
                download=runner.download, options=launch, force=force, observer=observer,
            )
    errors = [j for j in jobs.values() if j.status == "error"]
    if errors and len(errors) == len(jobs) and all(j.exit_code == 2 for j in errors):
        if len({j.message for j in errors}) == 1:
            raise UserError(errors[0].message or "every job stopped on a user error")
    outcomes = runner.evaluate(p.runs, p.eval_cfg)
    for o in outcomes:
        job = jobs.get(o.run.key)
        if job is None:
            continue
        if job.status == "trained" and o.status == "cached":
            o.status = "trained"
        elif job.status == "error":
            o.status = "error"
            log = f"; log: {job.log}" if job.log else ""
            events.warning(f"run '{o.run.label}' seed {o.run.seed}: {job.message}{log} (the same command resumes it)")
    return outcomes


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
        from modbench.launch import slurm

        slurm.check_cluster("slurm")


def run_jobs(todo: list, eval_cfg: dict, settings: WorkerSettings, *, force: bool) -> list[Job]:
    """One job per run (distinct keys): ``TrainJob`` trains it into the shared cache; in the
    parent, its progress is the epochs its history in the cache holds."""
    from modbench.launch import slurm_job  # looked up now: tests stand a hooked job callable in

    store = RunStore(Path(settings.cache_root))
    call = slurm_job.TrainJob()
    return [
        Job(key=run.key, call=call, args=(run, eval_cfg, settings, force), run=run,
            epochs=int(run.config["train"]["epochs"]),
            progress=lambda key=run.key: len(store.run(key).read_history()))
        for run in todo
    ]


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
) -> dict[str, JobResult]:
    """Train the runs the cache lacks through the executor of ``options`` (a pool or SLURM);
    returns what became of each launched run, by key. Finished runs are not touched. Every run
    trains with its own ``train.cpu_threads`` (part of its key), as it would in one process."""
    observer = observer or LaunchObserver()
    todo = RunStore(cache_root).pending(runs, force=force)
    if not todo:
        return {}
    if not options.elsewhere:
        raise ValueError(f"launcher {options.launcher!r} does not launch processes")
    preflight(options)
    root = str(Path(cache_root).expanduser().resolve())
    data = str(Path(data_dir).expanduser().resolve()) if data_dir is not None else None
    devices, threads = None, 1
    if options.launcher == "local":
        # The workers start with the largest count a run asks for (the Runner sets each run's
        # own count before it trains); never the pool's share of the cores.
        threads = max(run_threads(run.config) for run in todo)
        devices, child_device = _devices_for(options, options.device)
        settings = WorkerSettings(root, data, download, child_device, threads)
    else:
        # On the nodes "auto" picks the job's GPU when it was given one (--gpus-per-job); each
        # run trains with its own train.cpu_threads, as anywhere else.
        settings = WorkerSettings(root, data, download, options.device)
    executor = executor_for(options, default_folder=Path(root) / "slurm", name=f"modbench-{todo[0].suite}",
                            devices=devices, threads=threads)
    summaries = executor.run(run_jobs(todo, eval_cfg, settings, force=force), observer)
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
