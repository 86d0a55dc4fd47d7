"""Upper bounds of ``--jobs``, ``--threads`` and the OMP_NUM_THREADS / MKL_NUM_THREADS a command
starts with: a number past them is a typo or an attack, never a plan, and would otherwise start
thousands of processes or threads (the machine stops answering before the first epoch).

- worker processes (``--jobs``): at most 4 per CPU this process may use, and never more than 256;
- CPU threads per run: at most 4 per CPU, but at least 64 allowed (reproducing a result recorded
  with more threads than this machine has CPUs is legitimate, only slow), never more than 1024.

Standard library only: the command line checks these before it imports torch.
"""

from __future__ import annotations

import os

JOBS_PER_CPU, JOBS_CAP = 4, 256
THREADS_PER_CPU, THREADS_FLOOR, THREADS_CAP = 4, 64, 1024
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def usable_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def max_jobs() -> int:
    return min(JOBS_CAP, JOBS_PER_CPU * usable_cpus())


def max_threads() -> int:
    return min(THREADS_CAP, max(THREADS_FLOOR, THREADS_PER_CPU * usable_cpus()))


def jobs_problem(jobs: int | None) -> str | None:
    """Why ``--jobs jobs`` is refused (one line), or None."""
    if jobs is None or jobs <= max_jobs():
        return None
    return (f"--jobs {jobs}: at most {max_jobs()} worker processes on this machine ({JOBS_PER_CPU} per CPU, "
            f"{usable_cpus()} CPU(s), never more than {JOBS_CAP})")


def threads_problem(threads: int | None, source: str = "--threads") -> str | None:
    """Why ``threads`` CPU threads (from ``source``) are refused (one line), or None."""
    if threads is None or threads <= max_threads():
        return None
    return (f"{source} {threads}: at most {max_threads()} CPU threads per run on this machine "
            f"({THREADS_PER_CPU} per CPU, {usable_cpus()} CPU(s), at least {THREADS_FLOOR} allowed, never more than {THREADS_CAP})")


def env_threads_problem(environ=os.environ) -> str | None:
    """Why the thread count the environment sets is refused, or None (torch starts that many
    threads when it is imported, so this is checked first)."""
    for name in THREAD_ENV:
        value = environ.get(name, "").strip()
        if value.isdigit() and int(value) > max_threads():
            return (f"{name}={value}: more than the {max_threads()} CPU threads a run may use on this machine; "
                    f"unset it or set at most {max_threads()}")
    return None
