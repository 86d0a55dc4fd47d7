"""``--jobs N``: a suite's runs at once on this machine, one worker process per job.

A ``ProcessPoolExecutor`` with the spawn context (no forked CUDA or OpenMP state) starts at most
N workers. Each worker takes a slot when it starts and keeps it: slot i is pinned to
``--devices[i % len(devices)]`` through ``CUDA_VISIBLE_DEVICES`` (several slots may share a GPU),
or on the CPU to a disjoint share of the cores (``torch.set_num_threads`` and, on Linux, the
process's core affinity). A worker trains one run at a time through the ordinary Runner and keeps
its datasets loaded for its next run. Runs are independent and seeded, so the results are those
of running them one after another (bit-identical on the CPU with the same number of threads).

Progress: each worker sends its engine events through a queue; the parent turns them into calls
on a ``LaunchObserver`` (one line per job).
"""

from __future__ import annotations

import os
import queue as queue_mod
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from modbench.engine.events import Observer
from modbench.launch.events import LaunchObserver
from modbench.launch.worker import WorkerSettings, train_one

# -- in the worker ------------------------------------------------------------------------------
_SLOT: int | None = None
_EVENTS: Any = None


def _init_worker(slots, events, jobs: int, devices: tuple[int, ...] | None) -> None:
    """Runs once in each new worker, before torch touches a device."""
    global _SLOT, _EVENTS
    _SLOT, _EVENTS = slots.get(), events
    if devices:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(devices[_SLOT % len(devices)])
    from modbench.launch.options import cpu_share

    threads, cores = cpu_share(jobs, _SLOT)
    if cores is not None and not devices:
        os.sched_setaffinity(0, cores)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


class _QueueObserver(Observer):
    """Engine events of a worker, sent to the parent (batch events at most every ``every_s``)."""

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


def _pool_train(run, eval_cfg: dict, settings: WorkerSettings, force: bool) -> dict:
    return train_one(run, eval_cfg, settings, force, observer=_QueueObserver(_SLOT, _EVENTS))


# -- in the parent ------------------------------------------------------------------------------
def run_pool(
    runs: list,
    eval_cfg: dict,
    settings: WorkerSettings,
    *,
    jobs: int,
    devices: tuple[int, ...] | None,
    force: bool,
    observer: LaunchObserver,
) -> dict[str, dict]:
    """Train ``runs`` (distinct keys) on ``jobs`` worker processes; the workers' summaries by run
    key. An exception inside a worker becomes ``{"status": "error", "message": ...}``."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    slots, events = ctx.Queue(), ctx.Queue()
    jobs = max(1, min(jobs, len(runs)))
    for slot in range(jobs):
        slots.put(slot)
    names = [f"cuda:{devices[s % len(devices)]}" if devices else "cpu" for s in range(jobs)]
    observer.launched(total=len(runs), slots=[f"job {s} [{n}]" for s, n in enumerate(names)])
    by_key = {run.key: run for run in runs}
    slot_of: dict[str, int] = {}  # run key -> the slot whose start event arrived
    summaries: dict[str, dict] = {}

    # Events and results travel through different pipes: a run's start event may arrive after
    # its result. Lines are therefore keyed by run, and late events of a finished run are dropped.
    def drain() -> None:
        while True:
            try:
                event = events.get_nowait()
            except queue_mod.Empty:
                return
            kind, slot, key = event[0], event[1], event[2]
            if kind == "start" and key not in slot_of:
                slot_of[key] = slot
                observer.job_start(slot, by_key[key], start_epoch=event[3], epochs=event[4])
                if key in summaries:
                    observer.job_end(slot, by_key[key], status=summaries[key]["status"])
            elif kind == "update" and key in slot_of and key not in summaries:
                observer.job_update(slot, epochs_done=event[3], info=event[4])
            elif kind == "message":
                observer.message(event[3])

    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=ctx, initializer=_init_worker, initargs=(slots, events, jobs, devices)
    ) as pool:
        futures = {pool.submit(_pool_train, run, eval_cfg, settings, force): run for run in runs}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            drain()
            for future in done:
                run = futures[future]
                try:
                    summary = future.result()
                except Exception as exc:  # noqa: BLE001 - reported per run by the caller
                    first = str(exc).splitlines()[0] if str(exc) else ""
                    summary = {"key": run.key, "status": "error", "message": f"{type(exc).__name__}: {first}", "exit_code": 1}
                summaries[run.key] = summary
                observer.job_end(slot_of.get(run.key), run, status=summary["status"])
        drain()
    return summaries
