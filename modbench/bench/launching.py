"""``--jobs``/``--launcher``: train a plan's missing runs in other processes, then read every
outcome back from the cache (as ``report`` does) and warn about jobs that died."""

from __future__ import annotations

from modbench.errors import UserError
from modbench.launch.launch import launch_missing, preflight


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
