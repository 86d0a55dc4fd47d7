"""A tuning trial is an ordinary cached run, measured on the validation split.

A trial's run is the suite's run of that loss with the trial's parameters (and learning rate),
on the suite's first seed, with one extra configuration entry, ``"tune": {"evaluate_on":
"validation"}``: it has its own key (a tuned final run never shares a cache entry with a trial),
and the same parameters asked for twice (a rerun, another process, another study) are one run,
trained once. ``TrialRunner`` (``runner.py``) gives such runs a dataset whose "test" split *is* the validation
split: the engine's final evaluation then measures validation embeddings, and the test images
never reach the device, the model or any metric (tests/tune/test_isolation.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from modbench.engine.events import Observer  # no torch
from modbench.suite.runs import expand_entries, plan_runs
from modbench.suite.schema import LossEntry
from modbench.suite.tune_section import LR

# Imports inside functions here: optuna is imported when a trial reports to its pruner.

TRIAL_MARKER = {"evaluate_on": "validation"}


def is_trial(config: dict[str, Any]) -> bool:
    return (config.get("tune") or {}).get("evaluate_on") == "validation"


def trial_run(suite, source: str, setting, params: dict[str, Any], seed: int | None = None):
    """The RunSpec of one trial: ``setting`` (a LossSetting of ``suite``) with ``params`` (loss
    parameters, and ``lr``), seed ``suite.seeds[0]`` (or ``seed``: the re-training of the best
    settings, ``reselect.py``), evaluated on validation."""
    loss_params = {k: v for k, v in params.items() if k != LR}
    entry = LossEntry(
        name=setting.name,
        label=setting.label,
        params={**setting.params, **loss_params},
        lr=params.get(LR, setting.lr),
        optimizer=setting.optimizer,
    )
    (variant,) = expand_entries([(0, entry)], source, suite.references)  # the trial's parameters, validated
    (run,) = plan_runs(suite, [variant], seeds=[suite.seeds[0] if seed is None else seed])
    return run.with_config(tune=dict(TRIAL_MARKER))


def validation_as_test(splits):
    """The splits with the validation split standing in for the test split; the test tensors
    are dropped without being read."""
    info = dict(splits.info)
    info["evaluated_on"] = "validation (a tuning trial: the test split is not used)"
    sizes = dict(info.get("sizes") or {})
    sizes["test"] = len(splits.val_labels)
    info["sizes"] = sizes
    return dataclasses.replace(splits, test_images=splits.val_images, test_labels=splits.val_labels, info=info)


def trial_eval_cfg(eval_cfg: dict[str, Any], metric: str) -> dict[str, Any]:
    """The suite's evaluation settings with the objective metric measured every epoch (for the
    pruner) and at the end (the trial's value)."""
    cfg = dict(eval_cfg)
    cfg["val_metrics"] = list(dict.fromkeys([*cfg["val_metrics"], metric]))
    cfg["metrics"] = list(dict.fromkeys([*cfg["metrics"], metric]))
    return cfg


class PruningObserver(Observer):
    """Reports each epoch's validation metric to the Optuna trial and stops the run (raising
    ``optuna.TrialPruned`` from the engine's epoch event, after that epoch's checkpoint is on
    disk) when the pruner says so. Every event is passed on to ``inner`` (the progress)."""

    def __init__(self, trial, metric: str, inner: Observer | None = None, beat=None):
        self.trial, self.metric = trial, metric
        self.inner = inner or Observer()
        self.beat = beat or (lambda: None)
        self.epochs_trained = 0
        self.epochs = None

    def run_start(self, run, **kw):
        self.epochs = kw.get("epochs")
        self.inner.run_start(run, **kw)

    def batch_end(self, **kw):
        self.inner.batch_end(**kw)

    def epoch_end(self, *, epoch, record):
        import optuna

        self.inner.epoch_end(epoch=epoch, record=record)
        self.epochs_trained += 1
        self.beat()
        value = (record.get("val") or {}).get(self.metric)
        if value is None or value != value:  # NaN: nothing to judge this epoch by
            return
        self.trial.report(float(value), epoch)
        if self.epochs is not None and epoch >= self.epochs:
            return  # trained to the end: pruning now would only throw its result away
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {epoch}: validation {self.metric} {value:.4f}")

    def run_end(self, run, **kw):
        self.inner.run_end(run, **kw)

    def message(self, text):
        self.inner.message(text)
