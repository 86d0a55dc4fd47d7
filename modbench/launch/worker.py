"""What a launched run does in its process: one run through the ordinary ``Runner``, into the
shared cache (``slurm_job.TrainJob``, the job callable of every executor, calls it).

It returns a small picklable summary, never the result itself (the parent reads results from
the cache). ``LogObserver``: the engine's events as plain lines, for a SLURM job's log.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modbench.cache.store import RunStore
from modbench.engine.events import Observer
from modbench.errors import ModbenchError

# Imports inside functions here: the engine (torch) is imported in the worker process, when it
# trains.


@dataclass(frozen=True)
class WorkerSettings:
    """How a child process reaches the cache and the data (paths on a shared filesystem)."""

    cache_root: str
    data_dir: str | None
    download: bool
    device: str  # "auto", "cpu" or "cuda" (the child's own view of its devices)
    threads: int | None = None  # the threads a worker starts with (each run then sets its own)


_RUNNERS: dict[WorkerSettings, Any] = {}  # one Runner per process: datasets stay loaded between runs


def _runner(settings: WorkerSettings):
    if settings not in _RUNNERS:
        from modbench.engine.runner import Runner, resolve_device

        _RUNNERS[settings] = Runner(
            RunStore(Path(settings.cache_root)),
            device=resolve_device(settings.device),
            data_dir=Path(settings.data_dir) if settings.data_dir else None,
            download=settings.download,
        )
    return _RUNNERS[settings]


def train_one(run, eval_cfg: dict, settings: WorkerSettings, force: bool, observer: Observer | None = None) -> dict:
    """Train (or resume) ``run``. Returns ``{"key", "status", "failure"}`` with status
    ``trained``/``cached``/``failed``, or ``{"key", "status": "error", "message", "exit_code"}``
    for a ``ModbenchError`` (a user error is reported by the parent as one line). Anything else
    propagates: the pool or submitit reports it with its traceback or log."""
    try:
        runner = _runner(settings)
        runner.observer = observer or Observer()
        (outcome,) = runner.train([run], eval_cfg, force=force)
    except ModbenchError as exc:
        return {"key": run.key, "status": "error", "message": str(exc), "exit_code": exc.exit_code}
    return {"key": run.key, "status": outcome.status, "failure": outcome.failure}


class LogObserver(Observer):
    """Plain progress lines for a job's log file (SLURM jobs have no terminal)."""

    def __init__(self, stream=None, every_s: float = 60.0):
        self.stream = stream  # None: this process's stderr when a line is written (picklable)
        self.every_s = every_s
        self._last = 0.0
        self._epochs = 0

    def _print(self, text: str) -> None:
        print(text, file=self.stream or sys.stderr, flush=True)

    def run_start(self, run, *, start_epoch, epochs, steps_per_epoch):
        self._epochs = epochs
        resumed = f", resumed at epoch {start_epoch + 1}" if start_epoch else ""
        self._print(f"run {run.key}: {run.label}, seed {run.seed}, {epochs} epochs of {steps_per_epoch} steps{resumed}")

    def batch_end(self, *, step, loss, images_per_s):
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            self._print(f"  step {step}: loss {loss:.4g}, {images_per_s:,.0f} img/s")

    def epoch_end(self, *, epoch, record):
        val = ", ".join(f"{k} {v:.4f}" for k, v in record.get("val", {}).items() if v == v)
        self._print(f"epoch {epoch}/{self._epochs}: train loss {record['train_loss']:.4g}, {record['seconds']:.1f} s; val {val}")

    def run_end(self, run, *, status):
        self._print(f"run {run.key}: {status}")

    def message(self, text):
        self._print(text)
