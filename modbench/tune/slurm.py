"""``modbench tune --launcher slurm``: one SLURM job per trial, through submitit.

For each study, as many jobs as trials are still missing from its budget are submitted (one job
array); each job opens the study from the shared storage, claims one trial and runs it
(``run_budget(max_new=1)``), so that the cluster runs the trials of one study at once and the
budget holds even when jobs start late or die. The storage must be reachable from every node:
a PostgreSQL or MySQL ``--storage URL`` on a cluster (SQLite files on NFS lock badly); the cache
must be on a shared filesystem, as for ``compare --launcher slurm`` (docs/scaling.md).
Tests run the same jobs with submitit's LocalExecutor by patching ``make_executor``'s cluster
(tests/tune/test_resume_and_share.py), as tests/launch does for ``compare``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

from modbench.tune.session import TuneSpec, make_trial_runner, open_session, tune_here
from modbench.tune.study import tally

# Imports inside functions here: the SLURM launcher (submitit, optional) is imported when tuning
# jobs are submitted; tests stand a local executor in through modbench.launch.slurm.


class TrialJob:
    """What one job runs: one trial of study ``index`` of the session that ``spec`` describes."""

    def __call__(self, spec: TuneSpec, index: int) -> int:
        session = open_session(spec)
        return tune_here(
            session, make_trial_runner(spec), say=lambda text: print(text, file=sys.stderr, flush=True),
            max_new=1, wait=False, only=[index],
        )


def tune_on_slurm(session, *, resources, folder: Path, cluster: str, say: Callable[[str], None], poll_s: float = 5.0) -> dict:
    """Submit one job per missing trial of each study, wait for them; returns {"submitted",
    "failed": [(job id, reason, log)]}."""
    from modbench.launch.slurm import failure_reason, import_submitit, make_executor
    submitit = import_submitit()
    executor = make_executor(folder, resources, cluster=cluster, name=f"modbench-tune-{session.suite.name}")
    plan = []
    for i, target in enumerate(session.targets):
        t = tally(session.study(target))
        missing = max(0, session.spec.trials - t.done - t.running)
        plan += [i] * missing
    jobs = []
    if plan:
        with executor.batch():
            for i in plan:
                jobs.append((i, executor.submit(TrialJob(), session.spec, i)))
    say(f"submitted {len(jobs)} job(s), one trial each")
    failed = []
    pending = list(jobs)
    while pending:
        still = []
        for i, job in pending:
            if not job.done():
                still.append((i, job))
                continue
            try:
                job.result()
            except (submitit.core.utils.FailedJobError, submitit.core.utils.UncompletedJobError) as exc:
                try:
                    log = str(job.paths.stderr)
                except Exception:  # noqa: BLE001
                    log = "(no log path)"
                failed.append((job.job_id, failure_reason(exc), log))
        pending = still
        if pending:
            time.sleep(poll_s)
    return {"submitted": len(jobs), "failed": failed}
