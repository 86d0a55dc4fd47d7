"""``modbench compare``: train what is missing, evaluate, print Tables 1 and 2."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from modbench.cli.common import (
    CacheDirOpt, DataDirOpt, DeviceOpt, ThreadsOpt, DownloadOpt, EpochsOpt, ForceOpt, JsonOpt, LossOpt,
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
    threads: ThreadsOpt = None,
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
    from modbench.cli.workflow import make_runner, plan, report_failures, train_plan
    from modbench.launch import launch_options
    from modbench.results.rows import rows_from_outcomes

    fmt = one_output_format(markdown=markdown, json=json_)
    p = plan(suite, losses=loss, seeds=seed, epochs=epochs, subset=subset)
    baselines = None
    if baseline is not None:  # checked before any training
        from modbench.results.baseline import find_baseline

        baselines = {p.suite.name: find_baseline([(r.loss, r.label) for r in p.runs], baseline, suite=p.suite.name)}
    launch = launch_options(
        launcher=launcher, jobs=jobs, devices=devices, partition=partition, gpus_per_job=gpus_per_job,
        time_min=time_min, slurm_log_dir=slurm_log_dir, suite_slurm=p.suite.slurm, device=device,
    )
    runner = make_runner(cache_dir=cache_dir, device=device, data_dir=data_dir, download=download, threads=threads)
    outcomes = train_plan(p, runner, force=force, launch=launch)
    notes = None
    if p.suite.tuned is not None:  # written by `modbench tune` (docs/tuning.md)
        from modbench.tune.tuned_suite import tuned_note

        notes = {p.suite.name: [tuned_note(p.suite.tuned)]}
    from modbench.results.deviations import written_suites  # to state the overrides on every table

    emit(render_rows(rows_from_outcomes(outcomes), fmt, baselines=baselines, notes=notes, written=written_suites([suite])))
    code = report_failures(outcomes)
    if code:
        raise typer.Exit(code)
