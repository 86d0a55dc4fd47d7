"""``modbench compare``: train what is missing, evaluate, print Tables 1 and 2."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from modbench.cli.common import (
    CacheDirOpt, DataDirOpt, DeviceOpt, DownloadOpt, EpochsOpt, ForceOpt, JsonOpt, LossOpt,
    MarkdownOpt, SeedOpt, SubsetOpt, SuiteOpt, handle_errors, one_output_format,
)
from modbench.cli.common import (  # scaling options (docs/scaling.md)
    DevicesOpt, GpusPerJobOpt, JobsOpt, LauncherOpt, PartitionOpt, SlurmLogDirOpt, TimeMinOpt,
)


@handle_errors
def compare(
    suite: SuiteOpt,
    loss: LossOpt = None,
    seed: SeedOpt = None,
    epochs: EpochsOpt = None,
    subset: SubsetOpt = None,
    device: DeviceOpt = "auto",
    cache_dir: CacheDirOpt = None,
    data_dir: DataDirOpt = None,
    download: DownloadOpt = False,
    force: ForceOpt = False,
    jobs: JobsOpt = None,
    devices: DevicesOpt = None,
    launcher: LauncherOpt = None,
    partition: PartitionOpt = None,
    gpus_per_job: GpusPerJobOpt = None,
    time_min: TimeMinOpt = None,
    slurm_log_dir: SlurmLogDirOpt = None,
    markdown: MarkdownOpt = False,
    json_: JsonOpt = False,
    baseline: Annotated[Optional[str], typer.Option("--baseline", help="Loss name or label to compare every other loss with: difference per metric and Welch's t-test over seeds (alpha 0.05).")] = None,
) -> None:
    """Train missing runs, then print the Table 1 (NMI, F1) and Table 2 (Recall@k) layouts."""
    import typer

    from modbench.cli.output import emit, render_rows
    from modbench.cli.workflow import report_failures, select_runs, train_or_answer
    from modbench.launch import launch_options
    from modbench.results.rows import rows_from_outcomes

    fmt = one_output_format(markdown=markdown, json=json_)
    selection = select_runs(suite, losses=loss, seeds=seed, epochs=epochs, subset=subset)
    baselines = None
    if baseline is not None:  # checked before any training
        from modbench.results.baseline import find_baseline

        name = selection.suite.name
        baselines = {name: find_baseline([(r.loss, r.label) for r in selection.runs], baseline, suite=name)}
    launch = launch_options(
        launcher=launcher, jobs=jobs, devices=devices, partition=partition, gpus_per_job=gpus_per_job,
        time_min=time_min, slurm_log_dir=slurm_log_dir, suite_slurm=selection.suite.slurm, device=device,
    )
    outcomes = train_or_answer(
        selection, cache_dir=cache_dir, device=device, data_dir=data_dir, download=download, force=force, launch=launch
    )
    emit(render_rows(rows_from_outcomes(outcomes), fmt, baselines=baselines))
    code = report_failures(outcomes)
    if code:
        raise typer.Exit(code)
