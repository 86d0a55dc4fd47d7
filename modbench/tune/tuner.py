"""Tuning a suite: one study per loss setting, the same trial budget for each.

``targets`` says what is tuned (each loss setting of the suite, its search space, its study's
name); ``TrialExecutor`` runs one trial (sample, train the trial's run, report, tell);
``tune_target`` runs a study to its budget in this process; ``best_of`` reads the result.
The engine is used as it is: the trial's run goes through ``TrialRunner.train`` like any run,
and pruning hooks in through the engine's per-epoch event (``PruningObserver``).
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Any, Callable

from modbench.canonical import canonical_json
from modbench.suite.runs import loss_settings_of, resolve_runs
from modbench.suite.tune_section import LR, Range, loss_space
from modbench.tune.study import PRUNER_FIELD, counted, retry_trial
from modbench.tune.trials import PruningObserver, trial_eval_cfg, trial_run

# Imports inside functions here: optuna is imported when a trial runs.


@dataclass(frozen=True)
class Target:
    setting: Any  # LossSetting
    space: dict[str, Range]
    study_name: str

    @property
    def label(self) -> str:
        return self.setting.label


def study_name(suite, source: str, setting, space: dict[str, Range], metric: str, pruner: str) -> str:
    """Readable, and keyed by everything a trial's value depends on but its parameters: the
    trial run's configuration without the searched values, the space, the metric (the digest),
    and the pruner (the last field, ``pruner NAME``). The sampler's seed is the name without the
    pruner (``study.sampler_seed``), so that studies differing only in their pruner draw the same
    first trials: a comparison of pruners (benchmarks/tune_cost.py) is not one of seeds."""
    base = copy.deepcopy(trial_run(suite, source, setting, {}).config)
    for param in space:
        if param == LR:
            base["train"].pop("lr", None)
        else:
            base["loss"]["params"].pop(param, None)
    digest = hashlib.sha256(
        canonical_json({"base": base, "space": {k: r.as_dict() for k, r in sorted(space.items())}, "metric": metric}).encode()
    ).hexdigest()[:12]
    return f"{suite.name} | {setting.label} | {metric} | {digest}{PRUNER_FIELD}{pruner}"


def targets(suite, source: str, *, losses: list[str] | None, metric: str, pruner: str) -> list[Target]:
    settings = loss_settings_of(suite, source)
    if losses:
        resolve_runs(suite, source, losses=losses)  # an unknown --loss: one line naming the choices
        settings = [s for s in settings if s.name in losses or s.label in losses]
    out = []
    for s in settings:
        space = loss_space(suite, s, source)
        out.append(Target(s, space, study_name(suite, source, s, space, metric, pruner)))
    return out


def suggest(trial, space: dict[str, Range]) -> dict[str, Any]:
    params = {}
    for name, rng in space.items():
        if rng.integer:
            params[name] = trial.suggest_int(name, int(round(rng.low)), int(round(rng.high)), log=rng.log)
        else:
            params[name] = trial.suggest_float(name, rng.low, rng.high, log=rng.log)
    return params


def _fmt(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


class TrialExecutor:
    """Runs one trial of ``target``: its run trained (or resumed, or read from the cache) by
    ``runner`` (a TrialRunner), pruned from the per-epoch validation metric, told to the study."""

    def __init__(self, study, suite, source: str, target: Target, runner, eval_cfg: dict, metric: str,
                 say: Callable[[str], None] = lambda text: None, progress=None):
        self.study, self.suite, self.source, self.target = study, suite, source, target
        self.runner, self.metric, self.say = runner, metric, say
        self.eval_cfg = trial_eval_cfg(eval_cfg, metric)
        self.progress = progress

    def __call__(self, trial) -> None:
        import optuna
        from optuna.trial import TrialState

        params = suggest(trial, self.target.space)
        run = trial_run(self.suite, self.source, self.target.setting, params)
        trial.set_user_attr("run", run.key)
        head = f"{self.target.label}: trial {trial.number} ({_fmt(params)})"
        observer = PruningObserver(trial, self.metric, inner=self.progress)
        try:
            # Epochs this run already has in the cache (a retried trial, or the same parameters
            # drawn before) are reported as they are, so the pruner judges every trial alike.
            for record in self.runner.store.run(run.key).read_history():
                value = (record.get("val") or {}).get(self.metric)
                if value is not None and value == value:
                    trial.report(float(value), int(record["epoch"]))
            if trial.should_prune():
                raise optuna.TrialPruned("pruned on the epochs in the cache")
            self.runner.observer = observer
            (outcome,) = self.runner.train([run], self.eval_cfg)
        except optuna.TrialPruned as exc:
            trial.set_user_attr("epochs_trained", observer.epochs_trained)
            self.study.tell(trial, state=TrialState.PRUNED)
            self.say(f"{head}: {exc}")
            return
        except BaseException:
            # Interrupted (Ctrl-C, an error): fail the trial and put its parameters back, so
            # that the next command resumes this run from its checkpoint.
            self.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
            retry_trial(self.study, trial.number, trial.params, "interrupted")
            raise
        trial.set_user_attr("epochs_trained", observer.epochs_trained)
        if outcome.status == "failed":  # diverged: a result of these parameters, counted
            trial.set_user_attr("counted", True)
            trial.set_user_attr("run_failed", (outcome.failure or {}).get("reason", "failed"))
            self.study.tell(trial, state=TrialState.FAIL)
            self.say(f"{head}: the run failed ({trial.user_attrs.get('run_failed')}); counted")
            return
        value = float(outcome.result["metrics"][self.metric])
        if value != value:
            trial.set_user_attr("counted", True)
            trial.set_user_attr("run_failed", f"validation {self.metric} is NaN")
            self.study.tell(trial, state=TrialState.FAIL)
            self.say(f"{head}: validation {self.metric} is NaN; counted as failed")
            return
        self.study.tell(trial, value)
        cached = " (from the cache)" if outcome.status == "cached" else ""
        self.say(f"{head}: validation {self.metric} {value:.4f}{cached}")


def counted_trials(study, budget: int) -> list:
    """The first ``budget`` counted trials (by number): what the result of the study is read
    from, so that a study run once with more trials still gives every loss the same budget."""
    trials = sorted((t for t in study.get_trials(deepcopy=True) if counted(t)), key=lambda t: t.number)
    return trials[:budget]


def best_of(study, budget: int) -> dict[str, Any]:
    """Best trial among the first ``budget`` counted trials, with the tally."""
    from optuna.trial import TrialState

    trials = counted_trials(study, budget)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    summary: dict[str, Any] = {
        "study": study.study_name,
        "trials": len(trials),
        "complete": len(complete),
        "pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "failed": sum(t.state == TrialState.FAIL for t in trials),
        "epochs_trained": sum(int(t.user_attrs.get("epochs_trained", 0)) for t in trials),
    }
    if complete:
        best = max(complete, key=lambda t: (t.value, -t.number))
        summary.update(best_trial=best.number, best_value=float(best.value), params=dict(best.params), run=best.user_attrs.get("run"))
    return summary
