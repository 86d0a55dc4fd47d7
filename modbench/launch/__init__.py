"""A suite's runs in other processes: a local pool of worker processes (``--jobs``) or one SLURM
job per run through submitit (``--launcher slurm``).

Each launcher trains the runs that the cache does not have in other processes; every process
writes its run into the shared cache, and the caller reads the results back from there (as
``report`` does), so that a launched run and an in-process run are the same cache entry.

- ``options.py``: which launcher, how many jobs, which devices, SLURM resources (checked flags).
- ``worker.py``: what a child process runs: one run through the ordinary ``Runner``.
- ``local.py``: a spawn-context process pool, each worker pinned to a GPU or a share of the cores.
- ``slurm.py``: submitit executors (``slurm``, and ``local`` standing in for it in tests);
  ``slurm_job.py``: the requeue-safe callable each job runs.
- ``launch.py``: which runs to launch (missing ones, each key once) and on which launcher.
- ``events.py``: the progress callbacks a launcher reports to (the CLI draws them).
"""

from __future__ import annotations

from modbench.launch.launch import JobResult, launch_missing
from modbench.launch.options import LaunchOptions, SlurmResources, launch_options

__all__ = ["JobResult", "LaunchOptions", "SlurmResources", "launch_missing", "launch_options"]
