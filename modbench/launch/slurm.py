"""``--launcher slurm``: one SLURM job per missing run, through submitit.

The jobs are submitted as one job array (``executor.batch()``) with the resources of
``SlurmResources``; each runs ``worker.train_one`` on its node against the cache root, which must
be on a filesystem the nodes share. The parent waits, showing each job's state and the epochs
its run has written to the cache, then reports failed jobs with their log files. A job that
SLURM preempts or times out is requeued by submitit (up to ``max_num_timeout`` times) and resumes
from its last epoch checkpoint, never from scratch.

Tests run the same code with submitit's ``LocalExecutor`` by patching ``make_executor``'s
cluster from the test (tests/launch/test_submitit_local.py); modbench itself has no such switch.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from modbench.cache.store import RunStore
from modbench.errors import UserError
from modbench.launch.events import LaunchObserver
from modbench.launch.options import SlurmResources
from modbench.launch.worker import WorkerSettings

# Imports inside functions here: submitit is optional (pip install modbench[slurm]) and slurm_job
# imports the engine (torch): imported when a SLURM job is submitted or runs.

INSTALL_HINT = "pip install modbench[slurm]"


def import_submitit():
    try:
        import submitit
    except ImportError:
        raise UserError(f"--launcher slurm needs submitit, which is not installed: {INSTALL_HINT}") from None
    return submitit


def check_cluster(cluster: str) -> None:
    """submitit is installed and, for SLURM, ``sbatch`` is at hand (UserError otherwise)."""
    import_submitit()
    if cluster == "slurm" and shutil.which("sbatch") is None:
        raise UserError(
            "--launcher slurm: sbatch is not on PATH here; run from a SLURM login node, "
            "or use --jobs N to run on this machine"
        )


def make_executor(folder: Path, resources: SlurmResources, *, cluster: str, name: str):
    """A submitit AutoExecutor for ``cluster`` ("slurm" or "local") with the job resources."""
    submitit = import_submitit()
    check_cluster(cluster)
    folder.mkdir(parents=True, exist_ok=True)
    executor = submitit.AutoExecutor(folder=folder, cluster=cluster)
    executor.update_parameters(name=name, **resources.submitit_parameters())
    return executor


def failure_reason(exc: Exception) -> str:
    """The exception line of the job's traceback in submitit's error; for a job that ended
    without a result (killed: out of memory, time limit, preemption past the requeue limit)
    submitit's "has not produced any output (state: ...)" line; else the first line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if line.startswith("has not produced any output"):
            return f"the job ended without a result, probably killed ({line})"
    for line in reversed(lines):
        head = line.split(":", 1)[0]
        if head.isidentifier() and (head.endswith(("Error", "Exception", "Interrupt")) or head == "KeyboardInterrupt"):
            return line
    return lines[0] if lines else type(exc).__name__


def _log_of(job) -> str:
    try:
        return str(job.paths.stderr)
    except Exception:  # noqa: BLE001 - a missing path must not hide the failure itself
        return "(no log path)"


def _epochs_written(cache_root: Path, key: str) -> int:
    return len(RunStore(cache_root).run(key).read_history())


def run_submitit(
    runs: list,
    eval_cfg: dict,
    settings: WorkerSettings,
    *,
    resources: SlurmResources,
    folder: Path,
    cluster: str,
    force: bool,
    observer: LaunchObserver,
    poll_s: float = 10.0,
) -> dict[str, dict]:
    """Submit one job per run (distinct keys), wait for all, return the jobs' summaries by run
    key; a job that failed or was killed becomes ``{"status": "error", "message", "log"}``."""
    submitit = import_submitit()
    suite = runs[0].suite if runs else "runs"
    executor = make_executor(folder, resources, cluster=cluster, name=f"modbench-{suite}")
    from modbench.launch.slurm_job import TrainJob

    jobs: list[Any] = []
    with executor.batch():
        for run in runs:
            jobs.append(executor.submit(TrainJob(), run, eval_cfg, settings, force))
    observer.launched(total=len(runs), slots=[f"job {job.job_id}" for job in jobs])
    for slot, (run, job) in enumerate(zip(runs, jobs)):
        observer.job_start(slot, run, start_epoch=0, epochs=int(run.config["train"]["epochs"]))
    cache_root = Path(settings.cache_root)
    summaries: dict[str, dict] = {}
    while len(summaries) < len(runs):
        for slot, (run, job) in enumerate(zip(runs, jobs)):
            if run.key in summaries:
                continue
            if not job.done():
                observer.job_update(slot, epochs_done=_epochs_written(cache_root, run.key), info=str(job.state))
                continue
            try:
                summary = job.result()
            except (submitit.core.utils.FailedJobError, submitit.core.utils.UncompletedJobError) as exc:
                summary = {"key": run.key, "status": "error", "exit_code": 1,
                           "message": f"job {job.job_id} failed: {failure_reason(exc)}"}
            if summary.get("status") in ("error", "failed"):
                summary["log"] = _log_of(job)
            summaries[run.key] = summary
            observer.job_end(slot, run, status=summary["status"])
        if len(summaries) < len(runs):
            time.sleep(poll_s)
    return summaries
