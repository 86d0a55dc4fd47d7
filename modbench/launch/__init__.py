"""The machinery of running jobs in other processes, for the executors of the application layer
(``modbench.bench.executors``): a local pool of worker processes (``--jobs``) or one SLURM job
per job through submitit (``--launcher slurm``).

Every process writes what it computes where all can read it (a run into the shared cache, a
trial into the studies' storage), so that a launched run and an in-process run are the same
cache entry.

- ``options.py``: which launcher, how many jobs, which devices, SLURM resources (checked flags);
  ``limits.py``: the upper bounds of ``--jobs`` and thread counts.
- ``local.py``: a spawn-context process pool, each worker pinned to a GPU or a share of the cores.
- ``slurm.py``: submitit executors (``slurm``, and ``local`` standing in for it in tests).
- ``worker.py``: what a launched run does in its process: one run through the ordinary ``Runner``;
  ``slurm_job.py``: its job callable (requeue-safe on SLURM), the same in the pool.
- ``events.py``: the progress callbacks an executor reports to (the CLI draws them).
"""

from __future__ import annotations

from modbench.launch.options import LaunchOptions, SlurmResources, launch_options

__all__ = ["LaunchOptions", "SlurmResources", "launch_options"]
