"""The job callable of a launched run (modbench/launch/slurm_job.py): the pool imports it without
submitit, and on SLURM its ``checkpoint`` requeues the same run with ``force=False``, so that a
preempted or timed-out job resumes from the run's last epoch checkpoint instead of clearing it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from modbench.launch.slurm_job import TrainJob
from modbench.launch.worker import LogObserver


def test_importing_the_job_callable_does_not_import_submitit():
    code = "import sys, modbench.launch.slurm_job; print('submitit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_requeued_job_resumes_instead_of_training_again():
    submitit = pytest.importorskip("submitit")
    job, observer = TrainJob(), LogObserver()
    delayed = job.checkpoint("run", {"k": 1}, "settings", True, observer=observer)
    assert isinstance(delayed, submitit.helpers.DelayedSubmission)
    assert delayed.function is job
    assert delayed.args == ("run", {"k": 1}, "settings", False) and delayed.kwargs == {"observer": observer}
