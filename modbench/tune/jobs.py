"""The job callables of a tuning (run by ``bench.executors``, pickled to other processes): each
rebuilds the session from its ``TuneSpec`` and runs trials against the shared studies' storage.

- ``WorkerJob``: a ``--jobs`` worker: trials of every study until their budgets are counted
  (the same loop as the parent's, ``session.tune_here``), waiting for trials other processes
  run so that an interrupted one is retried;
- ``TrialJob``: a SLURM job: one trial of one study (``run_budget(max_new=1)``), so that the
  cluster runs the trials of a study at once and the budget holds even when jobs start late or
  die.

Each prints its trial lines on its own stderr (a worker's terminal, a SLURM job's log); the
summary it returns says how many trials it ran.
"""

from __future__ import annotations

import sys

from modbench.errors import ModbenchError
from modbench.tune.session import TuneSpec, make_trial_runner, open_session, tune_here


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class WorkerJob:
    def __call__(self, spec: TuneSpec, observer=None) -> dict:
        try:
            session = open_session(spec)
            ran = tune_here(session, make_trial_runner(spec), say=_say)
        except ModbenchError as exc:  # one line for the parent, with its exit code
            return {"status": "error", "message": str(exc), "exit_code": exc.exit_code}
        return {"status": "done", "trials": ran}


class TrialJob:
    def __call__(self, spec: TuneSpec, index: int, observer=None) -> dict:
        session = open_session(spec)
        ran = tune_here(session, make_trial_runner(spec), say=_say, max_new=1, wait=False, only=[index])
        return {"status": "done", "trials": ran}
