"""The SLURM side of ``bench.executors.SlurmExecutor`` (``--launcher slurm``): one SLURM job per
job, through submitit (``compare``: one per missing run; ``tune``: one per missing trial).

The jobs are submitted as one job array (``executor.batch()``) with the resources of
``SlurmResources``; each runs its callable on its node (a run: ``slurm_job.TrainJob`` against
the cache root, which must be on a filesystem the nodes share). The parent waits, showing each
job's state and, for a run, the epochs it has written to the cache, then reports failed jobs
with their log files. A run's job that SLURM preempts or times out is requeued by submitit (up
to ``max_num_timeout`` times) and resumes from its last epoch checkpoint, never from scratch.

Tests run the same code with submitit's ``LocalExecutor`` by patching ``make_executor``'s
cluster from the test (tests/launch/test_submitit_local.py); modbench itself has no such switch.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from modbench.errors import UserError
from modbench.launch.events import LaunchObserver
from modbench.launch.options import SlurmResources
from modbench.launch.worker import LogObserver

# Imports inside functions here: submitit is optional (pip install modbench[slurm]): imported
# when a SLURM job is submitted.

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


def run_submitit(
    jobs: list,
    *,
    resources: SlurmResources,
    folder: Path,
    cluster: str,
    observer: LaunchObserver,
    name: str,
    poll_s: float = 10.0,
) -> dict[str, dict]:
    """Submit one SLURM job per job (``bench.executors.Job``: distinct keys), as one job array,
    wait for all, return their summaries by key. Each runs ``call(*args, observer=LogObserver())``
    (plain lines in its log); a job that failed or was killed becomes ``{"status": "error",
    "message", "reason", "log"}``, and a job whose own summary says ``error`` or ``failed`` gets
    its ``log`` too."""
    submitit = import_submitit()
    executor = make_executor(folder, resources, cluster=cluster, name=name)
    submitted: list[Any] = []
    with executor.batch():
        for job in jobs:
            submitted.append(executor.submit(job.call, *job.args, observer=LogObserver()))
    observer.launched(total=len(jobs), slots=[f"job {s.job_id}" for s in submitted])
    for slot, job in enumerate(jobs):
        observer.job_start(slot, job.run, start_epoch=0, epochs=job.epochs)
    summaries: dict[str, dict] = {}
    # Ctrl-C stops this loop, not the jobs (docs/scaling.md): they go on filling the cache, and
    # the next command reads what they wrote and submits only what is still missing.
    while len(summaries) < len(jobs):
        for slot, (job, handle) in enumerate(zip(jobs, submitted)):
            if job.key in summaries:
                continue
            if not handle.done():
                observer.job_update(slot, epochs_done=job.progress() if job.progress else None, info=str(handle.state))
                continue
            try:
                summary = handle.result()
            except (submitit.core.utils.FailedJobError, submitit.core.utils.UncompletedJobError) as exc:
                reason = failure_reason(exc)
                summary = {"key": job.key, "status": "error", "exit_code": 1, "reason": reason,
                           "message": f"job {handle.job_id} failed: {reason}"}
            if summary.get("status") in ("error", "failed"):
                summary["log"] = _log_of(handle)
            summaries[job.key] = summary
            observer.job_end(slot, job.run, status=summary["status"])
        if len(summaries) < len(jobs):
            time.sleep(poll_s)
    return summaries
