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


# -- the strict successive-halving rule (modbench.tune.pruning.StrictHalvingPruner) ----------------
def _reference_prunes(history: list[dict[int, float]], mine: dict[int, float], step: int, eta: int, r0: int = 1) -> bool:
    """The rule from its definition, by brute force: rungs r0 * eta**k; at a rung, the trial goes
    on iff it is strictly better than all but fewer than max(1, n // eta) of the n trials there
    (itself included), i.e. fewer than that many others are at least as good."""
    rungs = set()
    r = r0
    while r <= 10_000:
        rungs.add(r)
        r *= eta
    if step not in rungs:
        return False
    value = mine[step]
    if value != value:
        return True
    at_rung = [h[step] for h in history if step in h and h[step] == h[step]]
    places = max(1, (len(at_rung) + 1) // eta)
    as_good = 0
    for other in at_rung:
        if other >= value:
            as_good += 1
    return as_good >= places


def _study_with(history, tmp_path, name, eta, *, in_memory=False):
    """A study whose finished trials report ``history``; in SQLite, as ``modbench tune`` keeps
    them, or (``in_memory``, for the many random cases) in Optuna's in-memory storage."""
    from modbench.tune.pruning import StrictHalvingPruner

    storage = None if in_memory else f"sqlite:///{tmp_path / (name + '.db')}"
    study = optuna.create_study(direction="maximize", pruner=StrictHalvingPruner(1, eta),
                                storage=storage, study_name=name)
    for curve in history:
        t = study.ask()
        for step, value in curve.items():
            t.report(value, step)
        study.tell(t, state=optuna.trial.TrialState.PRUNED)
    return study


@pytest.mark.parametrize("eta", [2, 3, 4])
def test_strict_halving_matches_the_rule_written_out_on_random_histories(tmp_path, eta):
    import random

    rng = random.Random(eta)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for case in range(12):
        # Values on a coarse grid, so that ties (the case the strict rule is for) are common.
        history = [{s: rng.choice([0.25, 0.5, 0.75, 1.0, float("nan")]) for s in range(1, rng.randint(1, 10) + 1)}
                   for _ in range(rng.randint(0, 9))]
        study = _study_with(history, tmp_path, f"c{eta}-{case}", eta, in_memory=True)
        mine = {s: rng.choice([0.25, 0.5, 0.75, 1.0]) for s in range(1, 10)}
        trial = study.ask()
        for step in range(1, 10):
            trial.report(mine[step], step)
            assert trial.should_prune() == _reference_prunes(history, mine, step, eta), (history, mine, step)


def test_a_tie_with_the_best_is_pruned_where_optunas_rule_promotes_it(tmp_path):
    """The reason the rule is written here: at MAP@R 1.0, a trial that ties the best cannot change
    the study's result; Optuna's SuccessiveHalvingPruner lets it train on."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    history = [{1: 1.0}, {1: 0.5}, {1: 0.25}]
    strict = _study_with(history, tmp_path, "strict", 3).ask()
    strict.report(1.0, 1)
    assert strict.should_prune()
    theirs = optuna.create_study(direction="maximize", pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3))
    for curve in history:
        t = theirs.ask()
        t.report(curve[1], 1)
        theirs.tell(t, state=optuna.trial.TrialState.PRUNED)
    tie = theirs.ask()
    tie.report(1.0, 1)
    assert not tie.should_prune()
    better = _study_with(history, tmp_path, "strict-better", 3).ask()
    better.report(1.0 + 1e-9, 1)
    assert not better.should_prune()  # strictly better than every other: goes on


def test_the_first_trial_goes_on_and_between_rungs_nothing_is_pruned(tmp_path):
    from modbench.tune.pruning import StrictHalvingPruner

    study = optuna.create_study(direction="maximize", pruner=StrictHalvingPruner(1, 3))
    first = study.ask()
    for step in range(1, 10):
        first.report(0.0, step)
        assert not first.should_prune()
    study.tell(first, 0.0)
    second = study.ask()
    second.report(-1.0, 2)  # epoch 2 is not a rung (1, 3, 9)
    assert not second.should_prune()
    second.report(-1.0, 3)
    assert second.should_prune()


def test_a_minimising_study_and_bad_settings_are_refused():
    from modbench.tune.pruning import StrictHalvingPruner

    with pytest.raises(ValueError):
        StrictHalvingPruner(0, 3)
    with pytest.raises(ValueError):
        StrictHalvingPruner(1, 1)
    study = optuna.create_study(direction="minimize", pruner=StrictHalvingPruner(1, 3))
    t = study.ask()
    t.report(1.0, 1)
    with pytest.raises(ValueError):
        t.should_prune()


def test_long_trials_are_first_judged_at_a_tenth_of_their_epochs(tmp_path):
    """At 30 epochs the first rung is epoch 3 (rungs 3, 9, 27): a trial far behind at epoch 1
    goes on, and is pruned at epoch 3 if still behind. At 8 epochs the first rung is epoch 1."""
    from modbench.tune import study as st

    storage = st.open_storage(f"sqlite:///{tmp_path / 's.db'}")
    for epochs, first in ((30, 3), (8, 1)):
        study = st.open_study(storage, f"s{epochs}", pruner="asha", epochs=epochs)
        leader = study.ask()
        for step in range(1, epochs + 1):
            leader.report(0.9, step)
        study.tell(leader, 0.9)
        behind = study.ask()
        for step in range(1, first + 1):
            behind.report(0.1, step)
            assert behind.should_prune() == (step == first), (epochs, step)
