"""TEST-ONLY: the SLURM job callable with the kill/pause points of tests/killpoints.py installed
in the job's own process (submitit's local executor unpickles it there by this module's name)."""

from __future__ import annotations

from modbench.launch.slurm_job import TrainJob


class HookedTrainJob(TrainJob):
    def __call__(self, *args, **kwargs):
        import killpoints

        killpoints.install()
        return super().__call__(*args, **kwargs)
