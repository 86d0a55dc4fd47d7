"""``modbench tune``: the same Optuna search budget for every loss, on the validation split,
then the tuned suite (docs/tuning.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from modbench.cli.common import (
    CacheDirOpt, DataDirOpt, DeviceOpt, DownloadOpt, EpochsOpt, LossOpt, SubsetOpt, SuiteOpt,
    err, handle_errors,
)
from modbench.cli.common import (  # scaling options (docs/scaling.md)
    GpusPerJobOpt, JobsOpt, LauncherOpt, PartitionOpt, SlurmLogDirOpt, TimeMinOpt,
)

TrialsOpt = Annotated[int, typer.Option("--trials", "-n", min=1, help="Trials per loss (the same for every loss).")]
MetricOpt = Annotated[str, typer.Option("--metric", help="Validation metric to maximise, e.g. map@r, recall@1, nmi.")]
PrunerOpt = Annotated[Optional[str], typer.Option("--pruner", help="asha (successive halving at a tenth of the epochs, then x3, x9, ...: only the strictly best third of each rung goes on), median, or none \\[default: asha from 20 trials per loss, none below] (docs/tuning.md).", show_default=False)]
ReselectTopOpt = Annotated[int, typer.Option("--reselect-top", min=0, help="After the search, train the best N settings of each loss again on further seeds and keep the best mean (0: the search's best as it is).")]
ReselectSeedsOpt = Annotated[int, typer.Option("--reselect-seeds", min=0, help="Further seeds each of those settings is trained on (validation split).")]
StorageOpt = Annotated[Optional[str], typer.Option("--storage", help="Optuna storage URL, e.g. postgresql://user@host/db \\[default: sqlite in <cache>/tune/<suite>.db].")]
OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", help="Where to write the tuned suite (`-`: stdout, the summary table then goes to stderr; a symbolic link, device or FIFO is written through, never replaced) \\[default: ./<suite>-tuned.yaml].")]


@handle_errors
def tune(
    suite: SuiteOpt,
    loss: LossOpt = None,
    trials: TrialsOpt = 20,
    metric: MetricOpt = "map@r",
    pruner: PrunerOpt = None,
    reselect_top: ReselectTopOpt = 3,
    reselect_seeds: ReselectSeedsOpt = 2,
    epochs: EpochsOpt = None,
    subset: SubsetOpt = None,
    device: DeviceOpt = "auto",
    cache_dir: CacheDirOpt = None,
    data_dir: DataDirOpt = None,
    download: DownloadOpt = False,
    storage: StorageOpt = None,
    output: OutputOpt = None,
    jobs: JobsOpt = None,
    launcher: LauncherOpt = None,
    partition: PartitionOpt = None,
    gpus_per_job: GpusPerJobOpt = None,
    time_min: TimeMinOpt = None,
    slurm_log_dir: SlurmLogDirOpt = None,
) -> None:
    """Tune every loss of a suite with the same number of trials on the validation split (the
    test split is never used), then write the tuned suite for `compare`."""
    from modbench.cache.store import resolve_cache_root
    from modbench.cli.common import warn
    from modbench.cli.output import is_stdout
    from modbench.engine.device_names import check_device_name
    from modbench.errors import UserError
    from modbench.launch import launch_options
    from modbench.tune.session import TuneSpec, open_session, results
    from modbench.tune.study import in_memory_storage, safe_file_name, shown_url
    from modbench.tune.tuned_suite import tuned_suite_data, write_tuned_suite

    from modbench.tune.reselect import final_seeds, reselect, tuning_seeds
    from modbench.tune.session import make_trial_runner
    from modbench.tune.study import STARTUP_TRIALS, default_pruner

    check_device_name(device)  # before anything is submitted (SLURM jobs resolve it there)
    pruner = pruner or default_pruner(trials)
    if trials <= STARTUP_TRIALS:
        warn(f"--trials {trials} is at or below the sampler's {STARTUP_TRIALS} random start-up trials: "
             "this is a random search, TPE never models the results")
    root = resolve_cache_root(cache_dir)
    spec = TuneSpec(
        suite_ref=suite, losses=tuple(loss or ()), trials=trials, metric=metric, pruner=pruner,
        epochs=epochs, subset=subset, storage=storage, cache_root=str(root),
        data_dir=str(data_dir) if data_dir else None, download=download, device=device,
    )
    session = open_session(spec)
    spec = session.spec
    to_stdout = is_stdout(output)
    out_path = Path(output) if output is not None and not to_stdout else Path(f"{safe_file_name(session.suite.name)}-tuned.yaml")
    if not to_stdout and out_path.is_dir():
        raise UserError(f"--output {out_path}: is a folder; give a file name such as {out_path / 'tuned.yaml'}")
    launch = launch_options(
        launcher=launcher, jobs=jobs, devices=None, partition=partition, gpus_per_job=gpus_per_job,
        time_min=time_min, slurm_log_dir=slurm_log_dir, suite_slurm=session.suite.slurm, device=device,
    )
    if launch.launcher != "inline" and in_memory_storage(session.storage_url):
        raise UserError(
            f"--storage {shown_url(session.storage_url)}: an in-memory database lives in one process, so "
            f"each of the {launch.jobs or 'launched'} workers would tune a study of its own; give a file "
            "(sqlite:///tune.db) or a server, or leave --jobs/--launcher out"
        )
    session.storage  # a database that cannot be opened: one line, exit 2, before anything starts
    say = lambda text: err.print(text, markup=False, highlight=False)  # noqa: E731
    say(
        f"tuning {len(session.targets)} loss(es) of {session.source}, {trials} trial(s) each on the "
        f"validation split ({spec.metric}, pruner {spec.pruner}); studies in {shown_url(session.storage_url)}"
    )
    _run(session, spec, launch, say)
    found = results(session)
    if reselect_top and reselect_seeds:  # the best settings again on further seeds, here (validation)
        found = reselect(session, make_trial_runner(spec), found, top=reselect_top, seeds=reselect_seeds, say=say)
    first, retrain = tuning_seeds(session.suite, reselect_seeds if reselect_top else 0)
    used = [first, *retrain]
    for target, best in found:
        if best["trials"] < trials:
            warn(f"'{target.label}': {best['trials']} of {trials} trials counted (the same command continues the study)")
        if "params" not in best:
            warn(f"'{target.label}': no trial completed; the tuned suite keeps the suite's values")
    data = tuned_suite_data(
        session.raw, session.suite, found, source=session.source, trials=trials, metric=spec.metric,
        storage=shown_url(session.storage_url), pruner=spec.pruner,
        seeds=final_seeds(list(session.suite.seeds), used), tuning_seeds=used,
    )
    if to_stdout:
        from modbench.cli.common import out
        from modbench.tune.tuned_suite import tuned_suite_text

        out.file.write(tuned_suite_text(out_path, data))
        out.file.flush()
        _print_summary(found, spec.metric, trials, console=err)
        say("wrote the tuned suite to stdout; save it to a file for `modbench compare --suite FILE`")
        return
    write_tuned_suite(out_path, data)
    _print_summary(found, spec.metric, trials)
    say(f"wrote {out_path}; `modbench compare --suite {out_path}` trains the tuned losses and reports test metrics")


def _run(session, spec, launch, say) -> None:
    from modbench.errors import UserError
    from modbench.tune.session import make_trial_runner, preload_data, trials_to_run, tune_here, tune_in_processes

    if launch.launcher == "inline":
        runner = make_trial_runner(spec)
        preload_data(session, runner)
        tune_here(session, runner, say=say)
    elif launch.launcher == "local":
        preload_data(session, make_trial_runner(spec))
        jobs = min(launch.jobs, trials_to_run(session))  # creates the studies, before the workers
        if jobs > 0:  # never more processes than trials left to run
            tune_in_processes(spec, jobs)
    else:  # slurm
        from modbench.tune.slurm import tune_on_slurm

        folder = launch.log_dir or Path(spec.cache_root) / "slurm"
        outcome = tune_on_slurm(session, resources=launch.slurm, folder=folder, cluster="slurm", say=say)
        for job_id, reason, log in outcome["failed"]:
            from modbench.cli.common import warn

            warn(f"job {job_id} failed: {reason}; log: {log} (the same command retries its trial)")
        if outcome["failed"] and len(outcome["failed"]) == outcome["submitted"]:
            raise UserError(f"every tuning job failed, e.g. {outcome['failed'][0][1]}")


def _print_summary(found, metric: str, trials: int, console=None) -> None:
    from rich.table import Table
    from rich.text import Text

    from modbench.cli.common import out

    out = console or out
    table = Table(title=Text(f"Tuning on validation — {trials} trials per loss, metric {metric}"))
    for col in ("Loss function", "Complete", "Pruned", "Failed", f"Best val {metric}", "Best parameters"):
        table.add_column(col)
    for target, best in found:
        value = best.get("best_value")
        params = best.get("params") or {}
        shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
        table.add_row(
            Text(target.label), str(best["complete"]), str(best["pruned"]), str(best["failed"]),
            "—" if value is None else f"{value:.4f}", Text(shown or "—"),
        )
    out.print(table)
