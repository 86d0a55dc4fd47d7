"""modbench.results.sequential: the family-wise error over all looks, the power, and that the
decisions are a pure function of the looks (a resumed run replays them)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modbench.errors import UserError
from modbench.results.sequential import SequentialPlan, sequential_decide
from modbench.results.verdict import decide

from .verdict_sim import Model, contrasts_at, effect_for_delta

PLAN = SequentialPlan(initial_seeds=3, step=2, max_seeds=11)  # looks at 3, 5, 7, 9, 11 seeds
QUERIES = 1000
TRAINING = dict(sd_loss_seed=0.05)  # seed-to-seed sd of Recall@1 differences about 0.01


def run_studies(model: Model, plan: SequentialPlan, studies: int, rng) -> list:
    """Each study as ``compare --until-decided`` runs it: look, stop the decided contrasts' seeds,
    look again with more seeds for the others, until done."""
    hit, labels = model.hits(rng, studies, plan.max_seeds, QUERIES)
    looks = [contrasts_at(hit, labels, n) for n in plan.seeds_at_looks]
    out = []
    for s in range(studies):
        history, decision = [], None
        for j in range(plan.looks):
            stopped = [decision is not None and not v.needs_more_seeds for v in (decision.verdicts if decision else [])]
            history.append([None if stopped and stopped[i] else c for i, c in enumerate(looks[j][s])])
            decision = sequential_decide(history, plan)
            if decision.done:
                break
        out.append((decision, history))
    return out


def false_claims(studies: int, seed: int) -> float:
    model = Model(effects=(0.0, 0.0, 0.0), **TRAINING)  # two candidates, both with Δ = 0
    results = run_studies(model, PLAN, studies, np.random.default_rng(seed))
    return float(np.mean([any(v.verdict in ("better", "worse") for v in d.verdicts) for d, _ in results]))


def bound(n: int, alpha: float = 0.05) -> float:
    """alpha plus two binomial standard errors of a rate estimated from n studies."""
    return alpha + 2 * math.sqrt(alpha * (1 - alpha) / n)


def test_no_more_than_alpha_false_better_or_worse_under_a_null_delta():
    assert false_claims(200, 1) <= bound(200)


@pytest.mark.slow
def test_no_more_than_alpha_false_better_or_worse_under_a_null_delta_1000_studies():
    assert false_claims(1000, 2) <= bound(1000)


def true_better(studies: int, seed: int) -> tuple[float, float]:
    model = Model(effects=(0.0, effect_for_delta(0.02, **TRAINING)), **TRAINING)  # Δ = 2δ
    results = run_studies(model, PLAN, studies, np.random.default_rng(seed))
    verdicts = [d.verdicts[0] for d, _ in results]
    return (float(np.mean([v.verdict == "better" for v in verdicts])),
            float(np.mean([v.verdict == "worse" for v in verdicts])))


def test_a_true_delta_of_twice_the_margin_is_mostly_decided_better():
    better, worse = true_better(200, 3)
    assert better >= 0.8 and worse == 0


def test_decisions_are_a_pure_function_of_the_looks():
    model = Model(effects=(0.0, 0.3, 0.0, -0.3), **TRAINING)
    for decision, history in run_studies(model, PLAN, 30, np.random.default_rng(4)):
        assert sequential_decide(history, PLAN) == decision  # a resumed run replays the same
        for v in decision.verdicts:
            if v.decided_at_look is not None:  # decided then, with the looks known then
                earlier = sequential_decide(history[: v.decided_at_look + 1], PLAN).verdicts[v.index]
                assert earlier.verdict == v.verdict and not earlier.needs_more_seeds


def test_one_look_is_holm_at_alpha():
    rng = np.random.default_rng(5)
    hit, labels = Model(effects=(0.0, 0.2, 0.0, -0.1)).hits(rng, 20, 6, 500)
    plan = SequentialPlan(initial_seeds=6, step=1, max_seeds=6)
    assert plan.looks == 1 and plan.threshold(0, 0.05) == 0.05
    for study in contrasts_at(hit, labels, 6):
        ours = sequential_decide([study], plan).verdicts
        assert [v.verdict for v in ours] == [v.verdict for v in decide(study, margin=plan.margin)]


def test_the_plan_and_its_spending():
    assert PLAN.seeds_at_looks == (3, 5, 7, 9, 11) and PLAN.look_of(7) == 2
    assert SequentialPlan(3, 4, 9).seeds_at_looks == (3, 7, 9)
    for spending in ("obrien-fleming", "pocock", "bonferroni"):
        plan = SequentialPlan(3, 2, 11, spending=spending)
        spent = [plan.spent(j, 0.05) for j in range(plan.looks)]
        assert spent[-1] == 0.05 and all(a < b for a, b in zip(spent, spent[1:]))
        assert sum(plan.threshold(j, 0.05) for j in range(plan.looks)) == pytest.approx(0.05)
    # O'Brien-Fleming-type spending at t = 3/11: 2 - 2 Phi(z_0.975 / sqrt(t))
    from scipy.stats import norm

    assert PLAN.spent(0, 0.05) == pytest.approx(2 * norm.sf(norm.isf(0.025) / math.sqrt(3 / 11)))
    with pytest.raises(UserError, match="not a planned look"):
        PLAN.look_of(4)
    with pytest.raises(UserError, match="max-seeds"):
        SequentialPlan(5, 1, 3)


def test_an_undecided_contrast_at_the_last_look_says_how_many_seeds():
    plan = SequentialPlan(initial_seeds=3, step=3, max_seeds=6)
    hit, labels = Model(effects=(0.0, 0.02), **TRAINING).hits(np.random.default_rng(6), 1, 6, 500)
    history = [contrasts_at(hit, labels, n)[0] for n in plan.seeds_at_looks]
    first = sequential_decide(history[:1], plan)
    assert not first.done and first.next_seeds == 6 and first.verdicts[0].needs_more_seeds
    last = sequential_decide(history, plan).verdicts[0]
    if last.verdict == "undecided":
        assert not last.needs_more_seeds and (last.seeds_needed is not None or "test set" in last.reason)


def test_looks_must_match_the_plan():
    hit, labels = Model().hits(np.random.default_rng(7), 1, 5, 200)
    with pytest.raises(ValueError, match="must be evaluated on 3 seeds"):
        sequential_decide([contrasts_at(hit, labels, 4)[0]], PLAN)
