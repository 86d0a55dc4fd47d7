"""Live logs where researchers look: TensorBoard event files and Weights & Biases (offline).

A subscriber to the engine's progress events (``engine/events.py``): the engine writes nothing
here; ``history.json`` in each run folder stays the source of truth, and what these logs show is
the same per-epoch record (training loss, validation metrics, seconds, images/s).

- ``--tensorboard DIR`` (or ``MODBENCH_TENSORBOARD``): one folder per run,
  ``DIR/<suite>/<label>/seed-<N>`` (names reduced to letters, digits, ``.``, ``_``, ``-``, with a
  short hash of the name where that changed it: ``a/b`` and ``a_b`` never share a folder), scalars
  ``train/loss``, ``train/lr``, ``val/<metric>``, ``speed/images_per_s`` against the epoch, written with
  ``torch.utils.tensorboard``. A resumed run continues its curves (``purge_step`` drops what a
  killed process wrote past its last checkpoint). Runs answered from the cache, or trained by
  ``--jobs``/SLURM workers, are written from their ``history.json`` if their folder has none.
- ``--wandb``: the same scalars through the ``wandb`` package in offline mode (``wandb sync``
  uploads later), one W&B run per modbench run, grouped by suite; a one-line error (exit 2)
  when the package is not installed.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

from modbench.cache.store import RunStore
from modbench.engine.events import Observer
from modbench.errors import UserError
from modbench.render.file_names import name_part

# Imports inside functions here: torch.utils.tensorboard (which imports torch) and wandb
# (optional: pip install wandb) are imported when --tensorboard or --wandb asks for them.


def _clean(text: str) -> str:
    """A path component from suite text: never a separator, '..' or a control character, and
    one-to-one (a text that needed a change gets a short hash: ``a/b`` and ``a_b`` get folders
    of their own, so their curves never merge)."""
    return name_part(str(text), 80)


def run_folder(root: Path, suite: str, label: str, seed: int) -> Path:
    return Path(root) / _clean(suite) / _clean(label) / f"seed-{int(seed)}"


def scalars(record: dict[str, Any]) -> dict[str, float]:
    """The numbers of one history record, by TensorBoard tag (NaN and missing values left out)."""
    out: dict[str, float] = {}
    values = {"train/loss": record.get("train_loss"), "train/lr": record.get("lr"),
              "speed/images_per_s": record.get("images_per_s")}
    values.update({f"val/{k}": v for k, v in (record.get("val") or {}).items()})
    for tag, value in values.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out[tag] = float(value)
    return out


class _TensorBoard:
    def __init__(self, root: Path, suite: str):
        self.root, self.suite = Path(root).expanduser(), suite
        self.writer = None
        try:  # checked before anything trains
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--tensorboard {root}: cannot write there ({exc.strerror or exc}); give a writable folder") from None

    def start(self, run, start_epoch: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        folder = run_folder(self.root, self.suite, run.label, run.seed)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--tensorboard {self.root}: cannot write there ({exc.strerror or exc}); give a writable folder") from None
        # purge_step: TensorBoard hides what earlier event files hold from this epoch on.
        self.writer = SummaryWriter(log_dir=str(folder), purge_step=start_epoch + 1)

    def epoch(self, epoch: int, record: dict[str, Any]) -> None:
        if self.writer is not None:
            for tag, value in scalars(record).items():
                self.writer.add_scalar(tag, value, global_step=epoch)
            self.writer.flush()  # live: visible in TensorBoard after each epoch

    def end(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def has_events(self, run) -> bool:
        folder = run_folder(self.root, self.suite, run.label, run.seed)
        return folder.is_dir() and any(folder.glob("events.out.tfevents.*"))


class _Wandb:
    def __init__(self, suite: str):
        if importlib.util.find_spec("wandb") is None:
            raise UserError("--wandb needs the wandb package, which is not installed; run: pip install wandb (or leave out --wandb)")
        self.suite = suite
        self.current = None

    def start(self, run, start_epoch: int) -> None:
        import wandb

        self.current = wandb.init(
            mode="offline", project="modbench", group=self.suite, name=f"{run.label} seed {run.seed}",
            config={"run": run.key, "suite": self.suite, "label": run.label, **(run.config or {})},
            reinit=True,
        )

    def epoch(self, epoch: int, record: dict[str, Any]) -> None:
        if self.current is not None:
            self.current.log(scalars(record), step=epoch)

    def end(self) -> None:
        if self.current is not None:
            self.current.finish()
            self.current = None


class LiveLogs(Observer):
    """Forwards the engine's events to the progress display (``alongside``) and writes them to
    the chosen live logs."""

    def __init__(self, *, suite: str, tensorboard: Path | None, wandb: bool, cache_root: Path):
        self.cache_root = Path(cache_root)
        self.tensorboard = _TensorBoard(tensorboard, suite) if tensorboard is not None else None
        self.sinks = [s for s in (self.tensorboard, _Wandb(suite) if wandb else None) if s is not None]
        self.inner: Observer = Observer()

    def alongside(self, observer: Observer) -> LiveLogs:
        self.inner = observer
        return self

    # -- engine events -------------------------------------------------------------------------
    def run_numerics(self, run, numerics):
        self.inner.run_numerics(run, numerics)

    def run_start(self, run, *, start_epoch, epochs, steps_per_epoch):
        self.inner.run_start(run, start_epoch=start_epoch, epochs=epochs, steps_per_epoch=steps_per_epoch)
        for sink in self.sinks:
            sink.start(run, start_epoch)

    def batch_end(self, *, step, loss, images_per_s):
        self.inner.batch_end(step=step, loss=loss, images_per_s=images_per_s)

    def epoch_end(self, *, epoch, record):
        self.inner.epoch_end(epoch=epoch, record=record)
        for sink in self.sinks:
            sink.epoch(epoch, record)

    def run_end(self, run, *, status):
        self.inner.run_end(run, status=status)
        for sink in self.sinks:
            sink.end()
        if status == "cached":
            self.cached_run(run)

    def message(self, text: str) -> None:
        self.inner.message(text)

    # -- runs not trained by this process ------------------------------------------------------
    def cached_run(self, run) -> None:
        """Write a run's logs from its history.json, when its TensorBoard folder has none (W&B:
        only runs trained by this command are logged)."""
        if self.tensorboard is None or self.tensorboard.has_events(run):
            return
        history = RunStore(self.cache_root).run(run.key).read_history()
        if not history:
            return
        self.tensorboard.start(run, 0)
        for record in history:
            if isinstance(record, dict) and isinstance(record.get("epoch"), int):
                self.tensorboard.epoch(record["epoch"], record)
        self.tensorboard.end()

    def cached(self, outcomes) -> None:
        for o in outcomes:
            if o.status in ("cached", "trained"):
                self.cached_run(o.run)
