"""Executors: where a batch of independent jobs runs. One interface for ``compare`` (a suite's
missing runs) and ``tune`` (its trials), three places:

- ``InlineExecutor``: one job after another in this process;
- ``PoolExecutor``: a pool of spawned worker processes on this machine (``--jobs N``,
  ``--devices``), each pinned to a device or a share of the cores (``modbench.launch.local``);
- ``SlurmExecutor``: one SLURM job per job through submitit (``--launcher slurm``,
  ``modbench.launch.slurm``).

A ``Job`` is a picklable callable with its arguments; every executor calls it as
``call(*args, observer=...)`` with the engine ``Observer`` of the place it runs in: inline and in
a pool worker, ``launch.events.EventSender``, whose events become the caller's
``LaunchObserver`` calls (at once, or through a queue to the parent); in a SLURM job,
``LogObserver`` (plain lines in the job's log). The job returns a small summary dict (at least
``status``); its real output goes where every process can read it (the run cache, the studies'
storage), so that a job that ran anywhere is the same as a job that ran here. A job catches the
errors it can explain (``ModbenchError``: ``{"status": "error", "message", "exit_code"}``).

``Executor.run(jobs, observer)`` streams what happens through ``observer`` (a ``LaunchObserver``:
``launched``, then ``job_start``/``job_update``/``job_end`` per job, ``message``) and returns
every job's summary by key. In a pool, a job that raises anything else becomes
``{"status": "error", "message": ...}``; in SLURM, one that fails or that SLURM kills too (with
``reason`` and ``log``); inline, its exception propagates. Ctrl-C (SIGINT) or
SIGTERM stops every job of this machine still running, then propagates (``KeyboardInterrupt``,
or ``launch.local.Terminated``, exit 143): what finished jobs wrote stays, and an interrupted
run keeps its last epoch checkpoint, so the same command resumes. SLURM jobs are not cancelled:
Ctrl-C stops the waiting, the jobs go on filling the cache, and the next command reads what they
wrote and submits only what is still missing (docs/scaling.md).

Not an executor: torchrun. It runs *one* run across several processes (how a run uses devices),
while an executor schedules *many* independent runs; under torchrun every rank runs the same
inline plan in lockstep (``bench.run``), and ``launch.options`` refuses ``--jobs``/``--launcher``
there.

Torch-free at import: torch is imported by the jobs, in their processes, and submitit by the
SLURM executor when it submits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from modbench.engine.events import Observer
from modbench.launch.events import EventRelay, EventSender, LaunchObserver
from modbench.launch.options import LaunchOptions, SlurmResources


@dataclass(frozen=True)
class Job:
    """One independent piece of work: ``call(*args, observer=...)`` -> a summary dict.

    ``key``: unique in its batch (a run's key for a run); ``run``: the RunSpec its progress line
    shows (None for a job that is not one run, e.g. a tuning worker); ``epochs``: that run's
    epochs; ``progress``: in the parent, the epochs done so far as another process wrote them
    (the SLURM executor polls it; None: unknown)."""

    key: str
    call: Callable[..., dict]
    args: tuple = ()
    run: Any = None
    epochs: int = 0
    progress: Callable[[], float | None] | None = field(default=None, compare=False)


class Executor(Protocol):
    """Runs a batch of independent jobs (module docstring)."""

    kind: str  # "inline" | "pool" | "slurm"

    def run(self, jobs: Sequence[Job], observer: LaunchObserver) -> dict[str, dict]: ...


class _Handed:
    """An ``EventSender``'s queue that hands each event to the relay at once (a job in this
    process)."""

    def __init__(self, relay: EventRelay):
        self.put = relay.handle


class InlineExecutor:
    """Each job in this process, one after another (no pickling). ``observer``: the engine
    observer the jobs report to (e.g. the caller's progress bars); None: their events become
    ``LaunchObserver`` calls through the pool's own translation (``launch.events``). An
    exception a job raises is raised here, as if the caller had called the job itself (a
    ``UserError`` stays one line, exit 2); a pool or SLURM job's exception can only come back as
    its summary."""

    kind = "inline"

    def __init__(self, observer: Observer | None = None):
        self.observer = observer

    def run(self, jobs: Sequence[Job], observer: LaunchObserver) -> dict[str, dict]:
        observer.launched(total=len(jobs), slots=["this process"])
        relay = EventRelay(None, {job.key: job.run for job in jobs}, observer)
        for job in jobs:
            relay.finished(job, job.call(*job.args, observer=self.observer or EventSender(0, _Handed(relay))))
        return relay.summaries


class PoolExecutor:
    """``workers`` spawned processes on this machine (``launch.local.run_pool``). ``devices``:
    the CUDA device of each slot in turn (None: the CPU, each worker on a disjoint share of the
    cores when that share has ``threads`` cores); ``threads``: the CPU threads a worker starts
    with (each run then sets its own)."""

    kind = "pool"

    def __init__(self, workers: int, *, devices: tuple[int, ...] | None = None, threads: int = 1):
        self.workers, self.devices, self.threads = workers, devices, threads

    def run(self, jobs: Sequence[Job], observer: LaunchObserver) -> dict[str, dict]:
        from modbench.launch.local import run_pool

        if not jobs:
            return {}
        return run_pool(list(jobs), workers=self.workers, devices=self.devices, threads=self.threads,
                        observer=observer)


class SlurmExecutor:
    """One SLURM job per job, submitted as one job array (``launch.slurm.run_submitit``).
    ``folder``: submitit's job scripts, pickles and logs; ``name``: the jobs' SLURM name."""

    kind = "slurm"

    def __init__(self, resources: SlurmResources, folder: Path, *, name: str, poll_s: float = 10.0):
        self.resources, self.folder, self.name, self.poll_s = resources, Path(folder), name, poll_s

    def run(self, jobs: Sequence[Job], observer: LaunchObserver) -> dict[str, dict]:
        from modbench.launch import slurm  # looked up at call time: tests stand a local cluster in

        if not jobs:
            return {}
        return slurm.run_submitit(list(jobs), resources=self.resources, folder=self.folder, cluster="slurm",
                                  observer=observer, poll_s=self.poll_s, name=self.name)


def executor_for(options: LaunchOptions, *, default_folder: Path, name: str,
                 devices: tuple[int, ...] | None = None, threads: int = 1, poll_s: float = 10.0) -> Executor:
    """The executor of the launch flags (``launch.options.launch_options``): ``inline``, the
    ``local`` pool of ``options.jobs`` workers (on ``devices``), or ``slurm`` (logs in
    ``options.log_dir``, else ``default_folder``)."""
    if options.launcher == "local":
        return PoolExecutor(options.jobs, devices=devices, threads=threads)
    if options.launcher == "slurm":
        return SlurmExecutor(options.slurm, options.log_dir or default_folder, name=name, poll_s=poll_s)
    return InlineExecutor()
