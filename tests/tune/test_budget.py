"""The equal budget on a shared study, without training anything: a fake trial function on a
real SQLite study, with the other processes played by trials this test creates."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from optuna.trial import TrialState

from modbench.tune import study as st


@pytest.fixture
def storage(tmp_path):
    return st.open_storage(f"sqlite:///{tmp_path / 'study.db'}")


@pytest.fixture
def study(storage):
    return st.open_study(storage, "s", pruner="none")


@pytest.fixture
def run_budget(storage):
    """``st.run_budget`` on the fixture's storage."""
    return lambda *args, **kw: st.run_budget(*args, storage=storage, **kw)


def fake_trial(study, values):
    def run(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        values.append(x)
        study.tell(trial, x)

    return run


def test_the_budget_is_reached_once_and_a_second_call_runs_nothing(study, run_budget):
    values = []
    assert run_budget(study, 3, fake_trial(study, values)) == 3
    assert run_budget(study, 3, fake_trial(study, values)) == 0
    assert st.tally(study).done == 3 and len(values) == 3
    assert run_budget(study, 5, fake_trial(study, values)) == 2  # a bigger budget continues


def test_pruned_and_diverged_trials_count_interrupted_ones_do_not(study, run_budget):
    def run(trial):
        trial.suggest_float("x", 0.0, 1.0)
        if trial.number == 0:
            study.tell(trial, state=TrialState.PRUNED)
        elif trial.number == 1:
            trial.set_user_attr("counted", True)  # the run diverged
            study.tell(trial, state=TrialState.FAIL)
        elif trial.number == 2:
            study.tell(trial, state=TrialState.FAIL)  # e.g. a job error: not a result
        else:
            study.tell(trial, 0.5)

    run_budget(study, 3, run)
    t = st.tally(study)
    assert (t.pruned, t.diverged, t.complete, t.done) == (1, 1, 1, 3)
    assert len(study.trials) == 4


def _other_process_trial(study, pid: int, params=None):
    """A trial running in 'another process' ``pid`` of this machine."""
    if params:
        study.enqueue_trial(params)
    trial = study.ask()
    if params:
        trial.suggest_float("x", 0.0, 1.0)
    trial.set_user_attr("owner", {"host": st.HOST, "pid": pid})
    return trial


def test_trials_running_elsewhere_hold_their_places_in_the_budget(study, run_budget):
    values = []
    run_budget(study, 1, fake_trial(study, values))
    _other_process_trial(study, os.getppid())  # alive: our parent
    assert run_budget(study, 2, fake_trial(study, values), wait=False) == 0
    assert st.tally(study).running == 1


def test_a_trial_that_takes_a_place_already_taken_gives_it_back(study, run_budget):
    values = []
    run_budget(study, 1, fake_trial(study, values))
    # Two processes ask at the same moment for the last place of a budget of 2.
    first = _other_process_trial(study, os.getppid())
    second = study.ask()
    assert st.within_budget(study, first.number, 2) and not st.within_budget(study, second.number, 2)


def test_a_dead_processs_trial_is_retried_with_its_parameters(study, run_budget):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    stale = _other_process_trial(study, pid, params={"x": 0.25})
    seen = []

    def run(trial):
        seen.append(trial.suggest_float("x", 0.0, 1.0))
        study.tell(trial, seen[-1])

    assert run_budget(study, 2, run) == 2
    assert seen[0] == 0.25  # the retry: same parameters, hence the same cached run (resumed)
    assert study.trials[stale.number].state == TrialState.FAIL
    assert st.tally(study).done == 2


def test_storage_urls_without_passwords_and_safe_file_names(tmp_path):
    assert st.shown_url("postgresql://me:secret@db.example/modbench") == "postgresql://me:***@db.example/modbench"
    assert st.safe_file_name("digits") == "digits"
    odd = st.safe_file_name("../x y")
    assert "/" not in odd and " " not in odd and odd != st.safe_file_name("../x_y")
    with pytest.raises(Exception) as info:
        st.open_storage("nosuchdb://x")
    assert "--storage nosuchdb://x" in str(info.value)


@pytest.mark.slow  # four rounds of Python processes started together (a race needs real processes)
def test_processes_creating_one_sqlite_storage_at_once_all_open_it(tmp_path):
    """Two `tune` commands started together both create the SQLite file's tables; before the
    creation was serialised, one of them failed with "table studies already exists" (exit 2)."""
    script = (
        "import sys, time\n"
        "from modbench.tune.study import open_storage\n"
        "while time.time() < float(sys.argv[2]): pass\n"
        "open_storage('sqlite:///' + sys.argv[1]); print('ok')\n"
    )
    repo = Path(st.__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")])}
    for round_ in range(4):
        start = time.time() + 2.0
        procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / f"r{round_}.db"), str(start)],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], [err[-400:] for _, err in outs]
