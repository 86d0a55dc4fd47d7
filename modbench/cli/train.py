"""``modbench train``: train every run of a suite that the cache does not have yet."""

from __future__ import annotations

from modbench.cli.common import (
    CacheDirOpt, DataDirOpt, DeviceOpt, ThreadsOpt, DownloadOpt, EpochsOpt, ForceOpt, LossOpt, SeedOpt,
    SubsetOpt, SuiteOpt, err, handle_errors,
)
from modbench.cli.common import (  # scaling options (docs/scaling.md)
    DevicesOpt, GpusPerJobOpt, JobsOpt, LauncherOpt, PartitionOpt, SlurmLogDirOpt, TimeMinOpt,
)


@handle_errors
def train(
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
) -> None:
    """Train the suite's runs (cached runs are skipped, interrupted ones resume)."""
    import typer

    from modbench.cli.workflow import make_runner, plan, report_failures, train_plan
    from modbench.launch import launch_options

    p = plan(suite, losses=loss, seeds=seed, epochs=epochs, subset=subset)
    launch = launch_options(
        launcher=launcher, jobs=jobs, devices=devices, partition=partition, gpus_per_job=gpus_per_job,
        time_min=time_min, slurm_log_dir=slurm_log_dir, suite_slurm=p.suite.slurm, device=device,
    )
    runner = make_runner(cache_dir=cache_dir, device=device, data_dir=data_dir, download=download, threads=threads)
    outcomes = train_plan(p, runner, force=force, launch=launch)
    for o in outcomes:
        err.print(f"{o.status:>8}  {o.run.label} (seed {o.run.seed})  run {o.run.key}", markup=False, highlight=False)
    code = report_failures(outcomes)
    if code:
        raise typer.Exit(code)
