"""After the search: the best settings of each loss trained again on further seeds, and the
seeds the tuned suite may use.

The best trial of a study is the maximum of noisy values: on its one seed it is, on average,
better than the setting is (the winner's curse), and the settings just below it are often as
good. So the ``top`` best complete trials of each study (default 3) are each trained again on
``seeds`` further seeds (default 2), with the trial's settings, evaluated on the validation split
like a trial (ordinary cached runs with the trial marker, never pruned), and the setting with
the best mean validation score **over those further seeds** is chosen. The search seed's value
is left out of that mean on purpose: it is the value the candidates were selected on, so it is
biased upwards for each of them (and the more for the luckier). A candidate whose run diverges
on a further seed ranks last.

Seeds: the trials train on the suite's first seed s; the re-training on s + 1, ..., s + seeds.
The tuned suite's final runs never use any of these (``final_seeds``): its seeds are the suite's
seeds that tuning did not train on, completed to the same number with the smallest unused seeds
above them. Imports no torch.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from modbench.tune.trials import trial_eval_cfg, trial_run
from modbench.tune.tuner import counted_trials

# Imports inside functions here: optuna is imported when trials are re-selected: `modbench report`
# reads tuning results without it.

TOP = 3  # complete trials of each study trained again
SEEDS = 2  # further seeds each of them is trained on


def tuning_seeds(suite, seeds: int = SEEDS) -> tuple[int, list[int]]:
    """(the trials' seed, the re-training seeds)."""
    first = int(suite.seeds[0])
    return first, [first + i for i in range(1, seeds + 1)]


def final_seeds(suite_seeds: list[int], used: list[int]) -> list[int]:
    """As many seeds as the suite lists, none of them ``used`` by tuning: the suite's own seeds
    that tuning did not train on, then the smallest seeds above every seed named so far."""
    used_set = set(used)
    out = [s for s in suite_seeds if s not in used_set]
    nxt = max([*suite_seeds, *used]) + 1
    while len(out) < len(suite_seeds):
        out.append(nxt)
        nxt += 1
    return out


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def candidates(study, budget: int, top: int) -> list:
    """The ``top`` best complete trials among the study's first ``budget`` counted ones (value
    descending, then trial number)."""
    from optuna.trial import TrialState


    complete = [t for t in counted_trials(study, budget) if t.state == TrialState.COMPLETE]
    return sorted(complete, key=lambda t: (-t.value, t.number))[:top]


def reselect(session, runner, found: list[tuple[Any, dict]], *, top: int = TOP, seeds: int = SEEDS,
             say: Callable[[str], None] = lambda text: None) -> list[tuple[Any, dict]]:
    """``found`` (Target, best_of summary) with each summary's ``params`` those of the
    candidate with the best mean over the re-training seeds, and a ``reselection`` record
    (seeds, every candidate's values and mean, the chosen trial). ``top`` or ``seeds`` 0: the
    search's best trial, as it is."""
    if top <= 0 or seeds <= 0:
        return found
    metric = session.spec.metric
    eval_cfg = trial_eval_cfg(session.eval_cfg, metric)
    _, retrain = tuning_seeds(session.suite, seeds)
    out = []
    for target, best in found:
        chosen_from = candidates(session.study(target), session.spec.trials, top)
        if not chosen_from:
            out.append((target, best))
            continue
        records = []
        for rank, trial in enumerate(chosen_from, 1):
            values = []
            for seed in retrain:
                run = trial_run(session.suite, session.source, target.setting, dict(trial.params), seed=seed)
                (outcome,) = runner.train([run], eval_cfg)
                value = outcome.result["metrics"].get(metric) if outcome.status != "failed" else None
                values.append(float(value) if _finite(value) else None)
            mean = sum(values) / len(values) if all(v is not None for v in values) else None
            records.append({"trial": trial.number, "rank_in_search": rank, "search_value": float(trial.value),
                            "params": dict(trial.params), "values": values, "mean": mean})
            shown = "diverged or NaN" if mean is None else f"{mean:.4f}"
            say(f"{target.label}: re-training trial {trial.number} (search {trial.value:.4f}) on seeds "
                f"{', '.join(map(str, retrain))}: mean validation {metric} {shown}")
        winner = max(records, key=lambda r: (r["mean"] is not None, r["mean"] or 0.0, -r["rank_in_search"]))
        summary = dict(best)
        summary["params"] = dict(winner["params"])
        summary["reselection"] = {
            "top": top, "seeds": retrain, "metric": metric, "chosen_trial": winner["trial"],
            "chosen_mean": winner["mean"], "rule": "best mean validation score over the re-training seeds",
            "candidates": records,
        }
        out.append((target, summary))
    return out
