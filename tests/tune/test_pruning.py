"""The pruner hooks into the engine's per-epoch event: each epoch's validation metric is
reported to the trial, and the run stops (``optuna.TrialPruned``) when the pruner says so, but
never after its last epoch (its result would be thrown away)."""

from __future__ import annotations

import optuna
import pytest

from modbench.engine.events import Observer
from modbench.tune.trials import PruningObserver


class FakeTrial:
    def __init__(self, prune_after: int):
        self.reported, self.prune_after = [], prune_after

    def report(self, value, step):
        self.reported.append((step, value))

    def should_prune(self):
        return len(self.reported) >= self.prune_after


class Recorder(Observer):
    def __init__(self):
        self.epochs = []

    def epoch_end(self, *, epoch, record):
        self.epochs.append(epoch)


def _record(value):
    return {"val": {"map@r": value, "nmi": 0.5}, "train_loss": 1.0}


def test_the_metric_is_reported_and_the_run_stopped_when_the_pruner_says_so():
    trial, inner = FakeTrial(prune_after=2), Recorder()
    observer = PruningObserver(trial, "map@r", inner=inner)
    observer.run_start(None, start_epoch=0, epochs=5, steps_per_epoch=3)
    observer.epoch_end(epoch=1, record=_record(0.25))
    with pytest.raises(optuna.TrialPruned):
        observer.epoch_end(epoch=2, record=_record(0.5))
    assert trial.reported == [(1, 0.25), (2, 0.5)] and inner.epochs == [1, 2] and observer.epochs_trained == 2


def test_never_pruned_after_its_last_epoch_and_nan_is_not_reported():
    trial = FakeTrial(prune_after=1)
    observer = PruningObserver(trial, "map@r")
    observer.run_start(None, start_epoch=1, epochs=2, steps_per_epoch=3)
    observer.epoch_end(epoch=2, record=_record(0.75))  # the last epoch: no exception
    assert trial.reported == [(2, 0.75)]
    observer.epoch_end(epoch=3, record=_record(float("nan")))
    assert trial.reported == [(2, 0.75)]


def test_successive_halving_prunes_a_worse_trial_at_the_first_rung(tmp_path):
    from modbench.tune import study as st

    study = st.open_study(st.open_storage(f"sqlite:///{tmp_path / 's.db'}"), "s", pruner="asha")
    for value in (0.9, 0.8, 0.7):  # three trials that reached epoch 1
        t = study.ask()
        t.report(value, 1)
        assert not t.should_prune() or value < 0.9  # registers the trial at the rung
        study.tell(t, value)
    worse = study.ask()
    observer = PruningObserver(worse, "map@r")
    observer.run_start(None, start_epoch=0, epochs=9, steps_per_epoch=1)
    with pytest.raises(optuna.TrialPruned):
        observer.epoch_end(epoch=1, record=_record(0.1))
    better = study.ask()
    observer = PruningObserver(better, "map@r")
    observer.run_start(None, start_epoch=0, epochs=9, steps_per_epoch=1)
    observer.epoch_end(epoch=1, record=_record(0.95))  # promoted: no exception
