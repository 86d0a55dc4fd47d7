"""The callable each SLURM job runs (imported only where submitit is installed).

``Checkpointable``: when SLURM preempts the job or its time runs out, submitit requeues it with
the arguments ``checkpoint`` returns. Those say ``force=False``, so the requeued job resumes from
the run's last epoch checkpoint instead of clearing it.
"""

from __future__ import annotations

import sys

import submitit

from modbench.launch.worker import LogObserver, train_one


class TrainJob(submitit.helpers.Checkpointable):
    def __call__(self, run, eval_cfg, settings, force):
        summary = train_one(run, eval_cfg, settings, force, observer=LogObserver())
        if summary["status"] == "error":  # a ModbenchError: its one line goes to the job's log too
            print(f"error: {summary['message']}", file=sys.stderr, flush=True)
        return summary

    def checkpoint(self, run, eval_cfg, settings, force):
        return submitit.helpers.DelayedSubmission(self, run, eval_cfg, settings, False)
