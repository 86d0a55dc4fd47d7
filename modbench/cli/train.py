"""``modbench train``: train every run of a suite that the cache does not have yet."""

from __future__ import annotations

from modbench.cli.common import (
    CacheDirOpt, DataDirOpt, DeviceOpt, DownloadOpt, EpochsOpt, ForceOpt, LossOpt, SeedOpt,
    SubsetOpt, SuiteOpt, err, handle_errors,
)


@handle_errors
def train(
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
) -> None:
    """Train the suite's runs (cached runs are skipped, interrupted ones resume)."""
    import typer

    from modbench.cli.workflow import make_runner, plan, report_failures, train_plan

    p = plan(suite, losses=loss, seeds=seed, epochs=epochs, subset=subset)
    runner = make_runner(cache_dir=cache_dir, device=device, data_dir=data_dir, download=download)
    outcomes = train_plan(p, runner, force=force)
    for o in outcomes:
        err.print(f"{o.status:>8}  {o.run.label} (seed {o.run.seed})  run {o.run.key}", markup=False, highlight=False)
    code = report_failures(outcomes)
    if code:
        raise typer.Exit(code)
