"""The pruners ``modbench tune`` offers (``--pruner``).

``asha`` is asynchronous successive halving (Li et al. 2020, "A System for Massively Parallel
Hyperparameter Tuning") written here rather than taken from Optuna's
``SuccessiveHalvingPruner`` for one reason: Optuna's promotes a trial whose value *ties* the
last promoted place. The validation metrics modbench tunes on saturate: on the ``digits`` suite
most cross-entropy and triplet trials reach MAP@R 1.0 within a few epochs, every one of them
ties the best, and Optuna's rule let them train on (a 20-trial digits tune: 33% of the
unpruned epochs against 30% here with the first rung at epoch 3; at epoch 1 of 9-epoch trials,
46-50% against 34%: docs/benchmarks.md, "Tuning cost"). A trial that can at best tie the trials
ahead of it cannot change the study's result, so here a tie is not a promotion.
Everything else is the textbook rule, on Optuna's public trial API.
"""

from __future__ import annotations

import math

import optuna
from optuna.trial import TrialState

from modbench.errors import UserError

PRUNERS = ("asha", "median", "none")


class StrictHalvingPruner(optuna.pruners.BasePruner):
    """Rungs at ``min_resource * reduction_factor**k`` epochs (1, 3, 9, ... by default). At a
    rung, a trial goes on only when fewer than ``max(1, n // reduction_factor)`` of the other
    trials that reached the rung are at least as good (``n`` counts the trial itself): the best
    ``1/reduction_factor`` of the rung, strictly. The first trial at a rung always goes on. A
    NaN value is the worst. Studies are maximised (modbench's metrics are all "higher is
    better"); a minimising study is refused."""

    def __init__(self, min_resource: int = 1, reduction_factor: int = 3):
        if min_resource < 1 or reduction_factor < 2:
            raise ValueError("min_resource >= 1 and reduction_factor >= 2")
        self.min_resource, self.reduction_factor = int(min_resource), int(reduction_factor)

    def is_rung(self, step: int) -> bool:
        if step < self.min_resource:
            return False
        k = round(math.log(step / self.min_resource, self.reduction_factor))
        return self.min_resource * self.reduction_factor**k == step

    def prune(self, study, trial) -> bool:
        if study.direction != optuna.study.StudyDirection.MAXIMIZE:
            raise ValueError("StrictHalvingPruner: modbench's studies maximise")
        step = trial.last_step
        if step is None or not self.is_rung(step):
            return False
        value = trial.intermediate_values[step]
        if value != value:
            return True
        others = [
            t.intermediate_values[step]
            for t in study.get_trials(deepcopy=False)
            if t.number != trial.number and t.state != TrialState.WAITING and step in t.intermediate_values
        ]
        others = [v for v in others if v == v]
        places = max(1, (len(others) + 1) // self.reduction_factor)
        at_least_as_good = sum(v >= value for v in others)
        return at_least_as_good >= places


def first_rung(epochs: int | None) -> int:
    """The first rung: a tenth of the trial's epochs (at least 1): 1 for up to 19 epochs, 3 for
    30, 7 for 70. A rung at epoch 1 of a long run judges a configuration before it has learned
    anything: on digits at 30 epochs it pruned the paper's loss's eventual best trials
    (docs/benchmarks.md, "Tuning cost")."""
    return max(1, int(epochs) // 10) if epochs else 1


def make_pruner(name: str, epochs: int | None = None):
    """``asha``: ``StrictHalvingPruner`` with rungs at ``first_rung(epochs)`` x 1, 3, 9, ...
    epochs, the strictly best third of each rung goes on; ``median``: Optuna's MedianPruner
    after 2 trials and 1 epoch; ``none``: every trial trains all its epochs. What each costs:
    docs/benchmarks.md."""
    if name == "asha":
        return StrictHalvingPruner(min_resource=first_rung(epochs), reduction_factor=3)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise UserError(f"--pruner {name}: choose {', '.join(PRUNERS)}")
