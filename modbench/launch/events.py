"""Progress callbacks of an executor (``bench.executors``), and how a job's engine events become
them. The executor calls them from the parent process; the command line draws them (one Rich
line per job on stderr). The base class does nothing.

``EventSender`` (the engine ``Observer`` a job runs with) turns the engine's events into small
tuples; ``EventRelay`` turns those into ``LaunchObserver`` calls, once per job for its end. A
pool worker's sender puts them on a queue the parent drains; an inline job's sender hands them
to the relay at once: one translation, wherever the job runs.
"""

from __future__ import annotations

import queue as queue_mod
import time
from typing import Any

from modbench.engine.events import Observer


class LaunchObserver:
    def launched(self, *, total: int, slots: list[str]) -> None:
        """``total`` runs to train on ``slots`` (one name per job line: a device, a SLURM job)."""

    def job_start(self, slot: int, run: Any, *, start_epoch: int, epochs: int) -> None: ...

    def job_update(self, slot: int, *, epochs_done: float | None = None, info: str = "") -> None: ...

    def job_end(self, slot: int | None, run: Any, *, status: str) -> None:
        """``slot`` is None when the run ended before it started (e.g. its data failed to load)."""

    def message(self, text: str) -> None:
        """A one-line notice for the user (stderr)."""


class EventSender(Observer):
    """The engine's events of a job, as tuples put on ``events`` (a queue to the parent, for a
    pool worker; ``EventRelay.handle`` itself, for a job in this process): batch events at most
    every ``every_s``."""

    def __init__(self, slot: int, events, every_s: float = 0.25):
        self.slot, self.events, self.every_s = slot, events, every_s
        self._last = 0.0
        self._steps, self._epoch, self._key = 1, 0, None

    def run_start(self, run, *, start_epoch, epochs, steps_per_epoch):
        self._steps, self._epoch, self._key = max(steps_per_epoch, 1), start_epoch, run.key
        self.events.put(("start", self.slot, run.key, start_epoch, epochs))

    def batch_end(self, *, step, loss, images_per_s):
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            info = f"loss {loss:.4g}, {images_per_s:,.0f} img/s" if loss is not None else ""
            self.events.put(("update", self.slot, self._key, self._epoch + step / self._steps, info))

    def epoch_end(self, *, epoch, record):
        self._epoch = epoch
        val = ", ".join(f"{k} {v:.3f}" for k, v in record.get("val", {}).items() if v == v)
        self.events.put(("update", self.slot, self._key, float(epoch), f"val {val}" if val else ""))

    def message(self, text):
        self.events.put(("message", self.slot, self._key, text))


class EventRelay:
    """Jobs' engine events (from ``EventSender``) -> the observer's calls. From a pool, events
    and results travel through different pipes: a run's start event may arrive after its
    result. Lines are therefore keyed by run, ``job_end`` is called once per job, when its
    result arrives, and of the late events of a finished run only its start is shown (its line
    then says how it ended)."""

    def __init__(self, events, by_key: dict, observer: LaunchObserver):
        """``events``: the queue ``drain`` reads (None: events come through ``handle``);
        ``by_key``: job key -> the run its line shows (a job that is one run has its key);
        engine events of other runs (a tuning worker's trials) start no line."""
        self.events, self.by_key, self.observer = events, by_key, observer
        self.slot_of: dict[str, int] = {}  # run key -> the slot whose start event arrived
        self.summaries: dict[str, dict] = {}

    def drain(self) -> None:
        """Every event waiting in the queue."""
        while True:
            try:
                event = self.events.get_nowait()
            except queue_mod.Empty:
                return
            self.handle(event)

    def handle(self, event: tuple) -> None:
        """One event of an ``EventSender``."""
        kind, slot, key = event[0], event[1], event[2]
        if kind == "start" and key not in self.slot_of and self.by_key.get(key) is not None:
            self.slot_of[key] = slot
            self.observer.job_start(slot, self.by_key[key], start_epoch=event[3], epochs=event[4])
            if key in self.summaries:  # it ended already (job_end was called): its line says how
                self.observer.job_update(slot, info=self.summaries[key]["status"])
        elif kind == "update" and key in self.slot_of and key not in self.summaries:
            self.observer.job_update(slot, epochs_done=event[3], info=event[4])
        elif kind == "message":
            self.observer.message(event[3])

    def finished(self, job, summary: dict) -> None:
        """``job`` (``bench.executors.Job``) ended with ``summary``."""
        self.summaries[job.key] = summary
        self.observer.job_end(self.slot_of.get(job.key), job.run, status=summary["status"])
