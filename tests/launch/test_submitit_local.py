"""``--launcher slurm`` with submitit's LocalExecutor standing in for SLURM: the same submission,
waiting and gathering code, local processes. modbench has no switch for this: the test patches
the executor's cluster (``local_cluster``) and, to kill a job, submits ``hooked_job.HookedTrainJob``
(the job callable with tests/killpoints.py installed in the job's process).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from scaling_helpers import ROOT, invoke, results_by_key

pytest.importorskip("submitit")


@pytest.fixture
def local_cluster(monkeypatch):
    """``--launcher slurm`` runs on submitit's LocalExecutor (no sbatch needed), polled often."""
    import modbench.launch.slurm as slurm

    real_check, real_run = slurm.check_cluster, slurm.run_submitit
    monkeypatch.setattr(slurm, "check_cluster", lambda cluster: real_check("local"))

    def run_locally(*args, **kwargs):
        return real_run(*args, **{**kwargs, "cluster": "local", "poll_s": 0.5})

    monkeypatch.setattr(slurm, "run_submitit", run_locally)
    # The job processes import the test helpers (killpoints, hooked_job) by name.
    here = Path(__file__).resolve().parent
    monkeypatch.syspath_prepend(str(here))  # hooked_job, here too
    monkeypatch.setenv("PYTHONPATH", ":".join([str(ROOT), str(ROOT / "tests"), str(here)]))


@pytest.mark.slow  # real subprocesses: ~5 s of CPU each (torch import)
def test_submitted_jobs_fill_the_cache_and_failed_jobs_name_their_log(reference, tmp_path, monkeypatch, local_cluster):
    suite, ref_cache = reference
    ref = results_by_key(ref_cache)
    ce_key = next(k for k, r in ref.items() if r["config"]["loss"]["name"] == "cross-entropy")
    triplet_key = next(k for k in ref if k != ce_key)
    cache, logs = tmp_path / "cache", tmp_path / "logs"
    (cache / "runs").mkdir(parents=True)
    (cache / "runs" / ce_key).write_text("not a folder")  # the job of this run cannot write: it dies
    args = ["--suite", suite, "--device", "cpu", "--cache-dir", cache, "--launcher", "slurm", "--slurm-log-dir", logs]

    first = invoke("compare", *args, "--json")
    assert first.exit_code == 1
    rows = {row["run"]: row for row in json.loads(first.stdout)}
    assert rows[triplet_key]["status"] == "done" and rows[ce_key]["status"] == "missing"
    assert results_by_key(cache)[triplet_key]["metrics"] == ref[triplet_key]["metrics"]
    warning = next(line for line in first.stderr.splitlines() if line.startswith("warning: run 'CE'") and "; log: " in line)
    log = Path(re.search(r"; log: (\S+) ", warning).group(1))
    assert log.is_file() and log.parent == logs
    assert "cannot write" in warning and "cannot write" in log.read_text()  # the job's one-line error
    assert any("epoch 2/2" in p.read_text() for p in logs.glob("*_log.err"))  # jobs log their progress
    assert len(list(logs.glob("*_submitted.pkl"))) == 2

    # Now a job that dies (SIGKILL after its first checkpoint, as an out-of-memory kill would):
    # only the missing run is submitted, and the warning names the job and its log.
    (cache / "runs" / ce_key).unlink()
    import hooked_job
    import modbench.launch.slurm_job as slurm_job

    monkeypatch.setattr(slurm_job, "TrainJob", hooked_job.HookedTrainJob)
    monkeypatch.setenv("HOOK_KILL_AT", "after-checkpoint:1")  # tests/killpoints.py, in the job
    second = invoke("compare", *args, "--json")
    assert second.exit_code == 1
    assert len(list(logs.glob("*_submitted.pkl"))) == 3
    warning = next(line for line in second.stderr.splitlines() if line.startswith("warning: run 'CE'") and "; log: " in line)
    job_id = re.search(r"job (\d+) failed: the job ended without a result, probably killed", warning).group(1)
    assert Path(re.search(r"; log: (\S+) ", warning).group(1)) == logs / f"{job_id}_0_log.err"
    assert (cache / "runs" / ce_key / "checkpoint.pt").is_file()  # the next command resumes it
