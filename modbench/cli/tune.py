"""``modbench tune``: the same Optuna search budget for every loss, on the validation split,
then the tuned suite (docs/tuning.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from modbench.cli.common import (
    CacheDirOpt, DataDirOpt, DeviceOpt, DownloadOpt, EpochsOpt, LossOpt, SubsetOpt, SuiteOpt,
    err, handle_errors, out,
)
from modbench.cli.common import (  # scaling options (docs/scaling.md)
    GpusPerJobOpt, JobsOpt, LauncherOpt, PartitionOpt, SlurmLogDirOpt, TimeMinOpt,
)

# The command's work (the application layer, modbench.bench, and what it imports) is imported
# when the command runs, so that `modbench --help` and shell completion load only Typer and
# Rich (tests/test_startup.py).

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
    from modbench.bench.tune import check_launch, tuning_session
    from modbench.bench.tune import tune as run_tune
    from modbench.cli.output import is_stdout, require_file_name
    from modbench.cli.running import console_events
    from modbench.launch import launch_options
    from modbench.tune.study import safe_file_name
    from modbench.tune.tuned_suite import tuned_suite_text, write_tuned_suite

    events = console_events()
    session = tuning_session(suite=suite, losses=loss, trials=trials, metric=metric, pruner=pruner, epochs=epochs,
                             subset=subset, cache_dir=cache_dir, data_dir=data_dir, download=download, device=device,
                             storage=storage, events=events)
    to_stdout = is_stdout(output)
    out_path = Path(output) if output is not None and not to_stdout else Path(f"{safe_file_name(session.suite.name)}-tuned.yaml")
    if not to_stdout:
        require_file_name(out_path, "--output", "tuned.yaml")
    launch = launch_options(
        launcher=launcher, jobs=jobs, devices=None, partition=partition, gpus_per_job=gpus_per_job,
        time_min=time_min, slurm_log_dir=slurm_log_dir, suite_slurm=session.suite.slurm, device=device,
    )
    check_launch(session, launch)
    tuned = run_tune(session, launch, events, reselect_top=reselect_top, reselect_seeds=reselect_seeds)
    metric = session.spec.metric
    if to_stdout:
        out.file.write(tuned_suite_text(out_path, tuned.data))
        out.file.flush()
        _print_summary(tuned.found, metric, trials, console=err)
        events.progress("wrote the tuned suite to stdout; save it to a file for `modbench compare --suite FILE`")
        return
    write_tuned_suite(out_path, tuned.data)
    _print_summary(tuned.found, metric, trials)
    events.progress(f"wrote {out_path}; `modbench compare --suite {out_path}` trains the tuned losses and reports test metrics")


def _print_summary(found, metric: str, trials: int, console=None) -> None:
    console = console or out
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
    console.print(table)
