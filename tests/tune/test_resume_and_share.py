"""Real ``modbench tune`` processes: killed with SIGKILL mid-study and run again, it keeps every
finished trial and resumes the killed one's run; two processes on one SQLite study share its
budget without running a trial twice; ``--launcher submitit-local`` runs one trial per job."""

from __future__ import annotations

import signal
import subprocess

import pytest
from optuna.trial import TrialState

from modbench.cache.store import RunStore

from tune_helpers import run_tune, studies, subprocess_env, tiny_suite, tune_args

pytestmark = pytest.mark.slow  # real subprocesses: a few seconds of CPU each (torch import)


def _counted(trials):
    return [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]


def test_killed_mid_study_the_same_command_keeps_finished_trials_and_resumes(tmp_path):
    suite = tiny_suite(tmp_path / "tiny.yaml", labels=("New loss",), epochs=2)
    cache = tmp_path / "cache"
    args = ("--trials", "3", "--pruner", "none")
    # Trial 0 trains epochs 1-2 (checkpoints 1, 2); killed right after trial 1's first epoch.
    killed = run_tune(suite, cache, *args, cwd=tmp_path, env=subprocess_env(HOOK_KILL_AT="after-checkpoint:3"), hooked=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    (before,) = studies(cache).values()
    assert [t.state for t in before] == [TrialState.COMPLETE, TrialState.RUNNING]
    killed_run = RunStore(cache).run(before[1].user_attrs["run"])
    first_epoch = killed_run.read_history()
    assert len(first_epoch) == 1 and killed_run.result_or_none() is None

    again = run_tune(suite, cache, *args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    (after,) = studies(cache).values()
    assert after[0].state == TrialState.COMPLETE and after[0].value == before[0].value  # kept as it was
    assert after[0].params == before[0].params
    assert after[1].state == TrialState.FAIL  # the killed trial ...
    retry = next(t for t in after if t.user_attrs.get("retry_of") == 1)
    assert retry.params == before[1].params and retry.user_attrs["run"] == killed_run.key  # ... retried
    assert killed_run.read_history()[0] == first_epoch[0]  # resumed from its checkpoint, not retrained
    assert retry.user_attrs["epochs_trained"] == 1
    assert len(_counted(after)) == 3
    assert (tmp_path / "tiny-tuned.yaml").is_file()


def test_two_processes_share_one_study_without_running_a_trial_twice(tmp_path):
    suite = tiny_suite(tmp_path / "tiny.yaml", labels=("CE",), epochs=1)
    cache = tmp_path / "cache"
    args = tune_args(suite, cache, "--trials", "4", "--pruner", "none")
    procs = [subprocess.Popen(args, env=subprocess_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-1500:] for o in outputs]
    (trials,) = studies(cache).values()
    counted = _counted(trials)
    assert len(counted) == 4  # exactly the budget, not one per process
    runs = [t.user_attrs["run"] for t in counted]
    assert len(set(runs)) == 4  # four different parameter draws, hence four runs
    reported = [line for _, err in outputs for line in err.splitlines() if line.startswith("CE: trial ")]
    assert len(reported) == 4 and len({line.split(" (")[0] for line in reported}) == 4  # each trial once
    for key in runs:  # each run trained once, one epoch
        assert len(RunStore(cache).run(key).read_history()) == 1
    assert all(t.user_attrs.get("over_budget") for t in trials if t not in counted)


def test_slurm_runs_one_trial_per_job_with_submitits_local_executor(tmp_path, cli, monkeypatch):
    pytest.importorskip("submitit")
    import modbench.launch.slurm as slurm

    real = slurm.make_executor
    monkeypatch.setattr(slurm, "check_cluster", lambda cluster: None)
    monkeypatch.setattr(slurm, "make_executor", lambda folder, resources, *, cluster, name: real(folder, resources, cluster="local", name=name))
    monkeypatch.setenv("PYTHONPATH", subprocess_env()["PYTHONPATH"])
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.chdir(tmp_path)
    suite = tiny_suite(tmp_path / "tiny.yaml", labels=("CE",), epochs=1)
    cache, logs = tmp_path / "cache", tmp_path / "logs"
    args = ("tune", "--suite", suite, "--cache-dir", cache, "--device", "cpu", "--trials", "2", "--launcher", "slurm", "--slurm-log-dir", logs)
    result = cli(*args)
    assert result.exit_code == 0, result.stderr[-2000:]
    (trials,) = studies(cache).values()
    assert len(_counted(trials)) == 2
    assert len(list(logs.glob("*_submitted.pkl"))) == 2  # one job per trial
    assert len({t.user_attrs["owner"]["pid"] for t in trials}) == 2  # each in its own process
    again = cli(*args)
    assert again.exit_code == 0 and len(list(logs.glob("*_submitted.pkl"))) == 2  # nothing left to submit


def test_jobs_run_the_trials_in_worker_processes_within_the_budget(tmp_path):
    suite = tiny_suite(tmp_path / "tiny.yaml", labels=("CE",), epochs=1)
    cache = tmp_path / "cache"
    proc = subprocess.Popen(tune_args(suite, cache, "--trials", "3", "--jobs", "2", "--pruner", "none"),
                            env=subprocess_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    (trials,) = studies(cache).values()
    counted = _counted(trials)
    assert len(counted) == 3
    assert all(t.user_attrs["owner"]["pid"] != proc.pid for t in counted)  # trained by the workers
    assert (tmp_path / "tiny-tuned.yaml").is_file()
