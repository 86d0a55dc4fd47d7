"""The job callable of a launched run, the same in every executor (``bench.executors``): a pool
worker and a SLURM job both call ``TrainJob()(run, eval_cfg, settings, force, observer=...)``.

For SLURM it is requeue-safe: when SLURM preempts the job or its time runs out, submitit calls
``checkpoint`` (it looks for the method by name, as for its ``helpers.Checkpointable``) and
requeues the job with the arguments that returns. Those say ``force=False``, so the requeued job
resumes from the run's last epoch checkpoint instead of clearing it. submitit is imported only
there, in a SLURM job: the pool needs no submitit.
"""

from __future__ import annotations

import sys

from modbench.launch.worker import LogObserver, train_one


class TrainJob:
    def __call__(self, run, eval_cfg, settings, force, observer=None):
        observer = observer or LogObserver()
        summary = train_one(run, eval_cfg, settings, force, observer=observer)
        if summary["status"] == "error" and isinstance(observer, LogObserver):
            # a ModbenchError in a job with a log: its one line goes to the log too
            print(f"error: {summary['message']}", file=sys.stderr, flush=True)
        return summary

    def checkpoint(self, run, eval_cfg, settings, force, observer=None):
        import submitit

        return submitit.helpers.DelayedSubmission(self, run, eval_cfg, settings, False, observer=observer)
