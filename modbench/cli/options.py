"""The options ``train`` and ``compare`` share, declared once as one object (``TrainOptions``).

Typer builds a command's options from its function signature; ``@training_options`` gives a
command the fields of ``TrainOptions`` as options (in this order, before the command's own)
and calls it with one ``TrainOptions`` instead of twenty keyword arguments. Written here
because Typer has no option groups shared between commands (its docs suggest repeating the
``Annotated`` types, which is what this replaces).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from pathlib import Path
from typing import Annotated, Optional

import typer

from modbench.cli.common import (
    CacheDirOpt, DataDirOpt, DeviceOpt, DevicesOpt, DownloadOpt, EpochsOpt, ForceOpt, GpusPerJobOpt,
    JobsOpt, LauncherOpt, LossOpt, PartitionOpt, PrecisionOpt, SeedOpt, SlurmLogDirOpt, SubsetOpt, SuiteOpt, TestSubsetOpt, ThreadsOpt, TimeMinOpt,
)

# Imports inside functions here: the command's work (the application layer modbench.bench, the
# suite loader, the cache, the results with numpy and scipy, torch) is imported when the command
# runs, so that `modbench --help` and shell completion load only Typer and Rich
# (tests/test_startup.py).

_LOGS = "Live logs (README, Live logs)"
TensorBoardOpt = Annotated[
    Optional[Path],
    typer.Option("--tensorboard", envvar="MODBENCH_TENSORBOARD", show_envvar=True, rich_help_panel=_LOGS, show_default=False,
                 help="Write TensorBoard event files here while training: per-epoch training loss and validation metrics, one folder per run (DIR/suite/label/seed-N) \\[default: no TensorBoard files]."),
]
WandbOpt = Annotated[
    bool,
    typer.Option("--wandb", rich_help_panel=_LOGS, help="Also log each run to Weights & Biases in offline mode (needs `pip install wandb`; `wandb sync` uploads later)."),
]


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """What ``train`` and ``compare`` are told: the runs, where they train, how they are launched."""

    suite: SuiteOpt
    loss: LossOpt = None
    seed: SeedOpt = None
    epochs: EpochsOpt = None
    subset: SubsetOpt = None
    precision: PrecisionOpt = None
    test_subset: TestSubsetOpt = None
    device: DeviceOpt = "auto"
    threads: ThreadsOpt = None
    cache_dir: CacheDirOpt = None
    data_dir: DataDirOpt = None
    download: DownloadOpt = False
    force: ForceOpt = False
    tensorboard: TensorBoardOpt = None
    wandb: WandbOpt = False
    jobs: JobsOpt = None
    devices: DevicesOpt = None
    launcher: LauncherOpt = None
    partition: PartitionOpt = None
    gpus_per_job: GpusPerJobOpt = None
    time_min: TimeMinOpt = None
    slurm_log_dir: SlurmLogDirOpt = None

    def select(self, seeds: list[int] | None = None):
        """The suite's runs after ``--loss``, ``--seed`` (or ``seeds``), ``--epochs``, ``--subset``,
        ``--test-subset``, ``--precision`` (exit 2 on any problem)."""
        from modbench.suite.selection import select_runs

        return select_runs(self.suite, losses=self.loss, seeds=self.seed if seeds is None else seeds, epochs=self.epochs,
                           subset=self.subset, test_subset=self.test_subset, threads=self.threads,
                           data_dir=self.data_dir, precision=self.precision)

    def settings(self):
        """Where and how the runs train (the application layer's ``RunSettings``)."""
        from modbench.bench.run import RunSettings

        return RunSettings(cache_dir=self.cache_dir, device=self.device, data_dir=self.data_dir, download=self.download,
                           force=self.force, tensorboard=self.tensorboard, wandb=self.wandb)

    def launch(self, selection):
        """LaunchOptions of ``--jobs``/``--launcher``/SLURM (docs/scaling.md), checked now."""
        from modbench.launch import launch_options

        return launch_options(
            launcher=self.launcher, jobs=self.jobs, devices=self.devices, partition=self.partition,
            gpus_per_job=self.gpus_per_job, time_min=self.time_min, slurm_log_dir=self.slurm_log_dir,
            suite_slurm=selection.suite.slurm, device=self.device,
        )


def _shared_parameters() -> list[inspect.Parameter]:
    hints = typing.get_type_hints(TrainOptions, include_extras=True)
    params = []
    for f in dataclasses.fields(TrainOptions):
        default = inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hints[f.name]))
    return params


def training_options(fn):
    """Turn ``fn(opts: TrainOptions, **own)`` into a Typer command with the shared options
    followed by ``fn``'s own ones."""
    shared = _shared_parameters()
    names = [p.name for p in shared]
    own_sig = inspect.signature(fn, eval_str=True)
    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for name, p in own_sig.parameters.items() if name != "opts"]
    clash = set(names) & {p.name for p in own}
    if clash:
        raise TypeError(f"{fn.__name__}: options {sorted(clash)} are already in TrainOptions")

    @functools.wraps(fn)
    def command(**kwargs):
        opts = TrainOptions(**{name: kwargs.pop(name) for name in names if name in kwargs})
        return fn(opts, **kwargs)

    command.__signature__ = inspect.Signature(shared + own)
    command.__annotations__ = {p.name: p.annotation for p in shared + own}
    del command.__wrapped__  # Typer must read the signature above, not fn's
    return command
