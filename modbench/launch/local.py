"""The process pool behind ``bench.executors.PoolExecutor`` (``--jobs N``): a batch of jobs at
once on this machine, at most N worker processes (``compare``: one job per missing run;
``tune``: N workers sharing the studies).

A ``ProcessPoolExecutor`` with the spawn context (no forked CUDA or OpenMP state) starts at most
N workers. Each worker takes a slot when it starts and keeps it: slot i is pinned to
``--devices[i % len(devices)]`` through ``CUDA_VISIBLE_DEVICES`` (several slots may share a GPU).
On the CPU every run trains with the thread count the sequential command would use (its own
``train.cpu_threads``, part of its key), so the results are bit-identical to running the runs one after another; a worker is pinned to a
disjoint share of the cores only when that share has at least that many cores. A worker runs
one job at a time (a run through the ordinary Runner, ``worker.train_one``, which keeps its
datasets loaded for its next run).

Stops: workers ignore SIGINT (the parent decides) and die with their parent (Linux
``PR_SET_PDEATHSIG``, plus a thread that watches ``getppid`` elsewhere). Ctrl-C or SIGTERM to
the parent terminates every worker at once; what is finished stays in the cache, and each
interrupted run keeps its last epoch checkpoint (writes are atomic). The command then exits
130 (SIGINT) or 143 (SIGTERM).

Progress: each worker sends its engine events through a queue; the parent turns them into calls
on a ``LaunchObserver`` (one line per job).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from modbench.errors import ModbenchError
from modbench.launch.events import EventRelay, EventSender, LaunchObserver
from modbench.launch.options import cpu_share
from modbench.user_code import detach_stdout

# Imports inside functions here: torch and ctypes are imported in the worker processes, which
# train; the parent process that only launches them stays torch-free.

PR_SET_PDEATHSIG = 1  # linux/prctl.h


class Terminated(ModbenchError):
    """SIGTERM to the parent of a --jobs pool: the workers were stopped (exit code 143)."""

    exit_code = 143

    def __init__(self):
        super().__init__(
            "stopped by SIGTERM: finished runs and each interrupted run's last epoch checkpoint are kept; "
            "run the same command again to resume"
        )


def _die_with_parent(parent: int) -> None:
    """This worker ends when ``parent`` does: PR_SET_PDEATHSIG on Linux (the kernel sends
    SIGKILL), and a watcher thread for other systems (or a parent that died before prctl)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(0.5)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="modbench-parent-watch", daemon=True).start()

# -- in the worker ------------------------------------------------------------------------------
_SLOT: int | None = None
_EVENTS: Any = None


def _init_worker(slots, events, jobs: int, devices: tuple[int, ...] | None, parent: int, threads: int) -> None:
    """Runs once in each new worker, before torch touches a device. ``threads``: the CPU threads
    every run trains with (the same as in one process; the Runner sets them per run)."""
    global _SLOT, _EVENTS
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us
    detach_stdout()  # results reach the parent through the pool, never through stdout
    _die_with_parent(parent)
    _SLOT, _EVENTS = slots.get(), events
    if devices:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(devices[_SLOT % len(devices)])
    _, cores = cpu_share(jobs, _SLOT)
    if cores is not None and not devices and len(cores) >= threads:  # never fewer cores than threads
        os.sched_setaffinity(0, cores)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


def _pool_call(call, args: tuple) -> dict:
    """A job in this worker: ``call(*args, observer=...)`` with events sent to the parent."""
    return call(*args, observer=EventSender(_SLOT, _EVENTS))


# -- in the parent ------------------------------------------------------------------------------
def run_pool(
    jobs: list,
    *,
    workers: int,
    devices: tuple[int, ...] | None,
    threads: int,
    observer: LaunchObserver,
) -> dict[str, dict]:
    """Run ``jobs`` (``bench.executors.Job``: distinct keys, picklable ``call`` and ``args``) on
    ``workers`` worker processes; their summaries by job key. An exception inside a worker
    becomes ``{"status": "error", "message": ...}``. KeyboardInterrupt (SIGINT) or
    ``Terminated`` (SIGTERM) after every worker is stopped. ``threads``: the CPU threads each
    worker starts with (each run then sets its own)."""
    ctx = multiprocessing.get_context("spawn")
    slots, events = ctx.Queue(), ctx.Queue()
    workers = max(1, min(workers, len(jobs)))
    for slot in range(workers):
        slots.put(slot)
    threads = threads or 1
    names = [f"cuda:{devices[s % len(devices)]}" if devices else f"cpu, {threads} thread(s)" for s in range(workers)]
    observer.launched(total=len(jobs), slots=[f"job {s} [{n}]" for s, n in enumerate(names)])
    relay = EventRelay(events, {job.key: job.run for job in jobs}, observer)
    summaries = relay.summaries

    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_init_worker,
        initargs=(slots, events, workers, devices, os.getpid(), threads),
    )
    previous = _on_sigterm_raise()
    try:
        futures = {pool.submit(_pool_call, job.call, job.args): job for job in jobs}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            relay.drain()
            for future in done:
                relay.finished(futures[future], _summary_of(future, futures[future]))
        relay.drain()
    except BaseException:  # Ctrl-C, SIGTERM, or a failure here: no worker goes on training
        _stop_workers(pool)
        raise
    finally:
        _restore_sigterm(previous)
        pool.shutdown(wait=True, cancel_futures=True)
    relay.drain()  # the workers have exited, so every event they sent is in the pipe by now
    return summaries


def _summary_of(future, job) -> dict:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - reported per job by the caller
        first = str(exc).splitlines()[0] if str(exc) else ""
        return {"key": job.key, "status": "error", "message": f"{type(exc).__name__}: {first}", "exit_code": 1}


def _on_sigterm_raise():
    """SIGTERM raises ``Terminated`` in the main thread (where the pool is waited on)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        raise Terminated()

    return signal.signal(signal.SIGTERM, handler)


def _restore_sigterm(previous) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """SIGKILL every worker of ``pool`` and wait for them (a kill at any moment is safe: writes
    are atomic, the last checkpoint stays), so that none trains on after the command ends."""
    workers = [p for p in multiprocessing.active_children()]
    for process in workers:
        try:
            process.kill()
        except (OSError, ValueError):
            pass
    for process in workers:
        process.join(timeout=10)
