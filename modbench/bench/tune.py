"""``tune``: the same Optuna search budget for every loss on the validation split, then the data
of the tuned suite (docs/tuning.md). The pieces are in ``modbench.tune`` (the session, the
studies, re-selection, the job callables of other processes); this is their order, with the
trials run through an executor (``executors.py``: inline, a ``--jobs`` pool, SLURM), without
printing: lines go to ``events.progress``, problems that do not stop the search to
``events.warning``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modbench.bench.events import Events
from modbench.bench.executors import InlineExecutor, Job, PoolExecutor, SlurmExecutor
from modbench.cache.reuse import run_threads
from modbench.cache.store import resolve_cache_root
from modbench.engine.device_names import check_device_name
from modbench.errors import ModbenchError, UserError
from modbench.launch.events import LaunchObserver
from modbench.tune.jobs import TrialJob, WorkerJob
from modbench.tune.reselect import final_seeds, reselect, tuning_seeds
from modbench.tune.session import (
    Session, TuneSpec, make_trial_runner, missing_trials, open_session, preload_data, results, trials_to_run,
    tune_here,
)
from modbench.tune.study import STARTUP_TRIALS, default_pruner, in_memory_storage, shown_url
from modbench.tune.trials import trial_run
from modbench.tune.tuned_suite import tuned_suite_data


@dataclass
class Tuned:
    """What a tuning found: per loss setting (a tuning target) its best parameters and trial
    counts, and the tuned suite's data (``tune.tuned_suite``), ready to be written."""

    found: list[tuple[Any, dict]]
    data: dict


def tuning_session(*, suite, losses, trials: int, metric: str, pruner: str | None, epochs: int | None,
                   subset: int | None, cache_dir: Path | None, data_dir: Path | None, download: bool, device: str,
                   storage: str | None, events: Events) -> Session:
    """The suite loaded and checked, its studies' storage named (one-line errors before anything
    is submitted); a warning when the budget is only the sampler's random start-up trials."""
    check_device_name(device)  # before anything is submitted (SLURM jobs resolve it there)
    pruner = pruner or default_pruner(trials)
    if trials <= STARTUP_TRIALS:
        events.warning(f"--trials {trials} is at or below the sampler's {STARTUP_TRIALS} random start-up trials: "
                       "this is a random search, TPE never models the results")
    spec = TuneSpec(
        suite_ref=suite, losses=tuple(losses or ()), trials=trials, metric=metric, pruner=pruner,
        epochs=epochs, subset=subset, storage=storage, cache_root=str(resolve_cache_root(cache_dir)),
        data_dir=str(data_dir) if data_dir else None, download=download, device=device,
    )
    return open_session(spec)


def check_launch(session: Session, launch) -> None:
    """A launcher the studies' storage cannot serve, or a storage that cannot be opened: one
    line (UserError), before anything starts."""
    if launch.launcher != "inline" and in_memory_storage(session.storage_url):
        raise UserError(
            f"--storage {shown_url(session.storage_url)}: an in-memory database lives in one process, so "
            f"each of the {launch.jobs or 'launched'} workers would tune a study of its own; give a file "
            "(sqlite:///tune.db) or a server, or leave --jobs/--launcher out"
        )
    session.storage  # opened now


def tune(session: Session, launch, events: Events, *, reselect_top: int, reselect_seeds: int) -> Tuned:
    """Run the studies' trials (here, in ``launch.jobs`` processes, or as SLURM jobs), re-select
    the best settings on further seeds, and build the tuned suite."""
    spec = session.spec
    events.progress(
        f"tuning {len(session.targets)} loss(es) of {session.source}, {spec.trials} trial(s) each on the "
        f"validation split ({spec.metric}, pruner {spec.pruner}); studies in {shown_url(session.storage_url)}"
    )
    _run_trials(session, launch, events)
    found = results(session)
    if reselect_top and reselect_seeds:  # the best settings again on further seeds, here (validation)
        found = reselect(session, make_trial_runner(spec), found, top=reselect_top, seeds=reselect_seeds,
                         say=events.progress)
    first, retrain = tuning_seeds(session.suite, reselect_seeds if reselect_top else 0)
    used = [first, *retrain]
    for target, best in found:
        if best["trials"] < spec.trials:
            events.warning(f"'{target.label}': {best['trials']} of {spec.trials} trials counted "
                           "(the same command continues the study)")
        if "params" not in best:
            events.warning(f"'{target.label}': no trial completed; the tuned suite keeps the suite's values")
    data = tuned_suite_data(
        session.raw, session.suite, found, source=session.source, trials=spec.trials, metric=spec.metric,
        storage=shown_url(session.storage_url), pruner=spec.pruner,
        seeds=final_seeds(list(session.suite.seeds), used), tuning_seeds=used,
    )
    return Tuned(found=found, data=data)


def _run_trials(session: Session, launch, events: Events) -> None:
    """The studies' trials through the executor of the launch flags (``executors.py``): here,
    in ``launch.jobs`` worker processes sharing the studies, or one SLURM job per missing trial."""
    spec = session.spec
    if launch.launcher == "inline":
        runner = make_trial_runner(spec)
        preload_data(session, runner)

        def here(observer) -> dict:  # the parent's session and its loaded data: nothing to pickle
            return {"status": "done", "trials": tune_here(session, runner, say=events.progress)}

        InlineExecutor().run([Job(key="this process", call=here)], LaunchObserver())
    elif launch.launcher == "local":
        preload_data(session, make_trial_runner(spec))
        jobs = min(launch.jobs, trials_to_run(session))  # creates the studies, before the workers
        if jobs > 0:  # never more processes than trials left to run
            tune_in_processes(spec, jobs)
    else:  # slurm
        _tune_on_slurm(session, launch, events)


def tune_in_processes(spec: TuneSpec, jobs: int) -> int:
    """``--jobs N``: N worker processes on this machine share every study (through its
    storage); each prints its trial lines on its stderr. The caller passes at most
    ``trials_to_run`` (no process without a trial to run). Returns the trials they ran."""
    executor = PoolExecutor(jobs, threads=_trial_threads(spec))
    workers = [Job(key=f"worker {slot}", call=WorkerJob(), args=(spec,)) for slot in range(jobs)]
    summaries = executor.run(workers, LaunchObserver())
    for summary in summaries.values():
        if summary["status"] == "error":  # a worker stopped: the command stops, as it would in one process
            error = UserError if summary.get("exit_code") == 2 else ModbenchError
            raise error(summary["message"])
    return sum(s.get("trials", 0) for s in summaries.values())


def _trial_threads(spec: TuneSpec) -> int:
    """The CPU threads a tuning worker starts with: its trials' ``train.cpu_threads``."""
    session = open_session(spec)
    if not session.targets:
        return 1
    return run_threads(trial_run(session.suite, session.source, session.targets[0].setting, {}).config)


class _Submitted(LaunchObserver):
    def __init__(self, say):
        self.say = say

    def launched(self, *, total, slots):
        self.say(f"submitted {total} job(s), one trial each")


def _tune_on_slurm(session: Session, launch, events: Events) -> None:
    """One SLURM job per missing trial of each study (``tune.jobs.TrialJob``); a warning per
    failed job, a UserError when every job failed."""
    spec = session.spec
    folder = launch.log_dir or Path(spec.cache_root) / "slurm"
    executor = SlurmExecutor(launch.slurm, folder, name=f"modbench-tune-{session.suite.name}", poll_s=5.0)
    plan = missing_trials(session)
    jobs = [Job(key=f"trial {n}", call=TrialJob(), args=(spec, index)) for n, index in enumerate(plan)]
    if not jobs:
        events.progress("submitted 0 job(s), one trial each")
        return
    summaries = executor.run(jobs, _Submitted(events.progress))
    failed = [s for s in summaries.values() if s["status"] == "error"]
    for s in failed:
        events.warning(f"{s['message']}; log: {s.get('log')} (the same command retries its trial)")
    if failed and len(failed) == len(jobs):
        raise UserError(f"every tuning job failed, e.g. {failed[0].get('reason') or failed[0]['message']}")
