"""modbench.results.verdict: paired contrasts and verdicts, on synthetic studies with a known Δ
(tests/results/verdict_sim.py: per-query hits from a logistic model with class, loss, seed and
test-query effects) and against computations written out from the definitions."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats as sps

from modbench.results.query_metrics import RecordsError
from modbench.results.stats import holm, welch
from modbench.results.verdict import (
    NOISE_BOTH,
    VERDICTS,
    Contrast,
    contrast,
    decide,
    holm_levels,
    moment_components,
    seeds_for_power,
)

from .verdict_sim import Model, records, runs

# The coverage study: 5 seeds, 1,000 test queries (10 classes of 100), the default model
# (seed effect sd 0.3 shared by the losses, 0.1 each loss's own; query effect sd 1.0 shared,
# 0.3 each loss's own; loss effect 0.1 on the logit scale: true Δ of Recall@1 = 0.0159).
SEEDS, QUERIES = 5, 1000


def coverage(model: Model, studies: int, seeds: int, queries: int, rng) -> tuple[float, float]:
    """(coverage of the 95% interval, of Welch's over seeds) over ``studies`` simulated studies,
    vectorised: the interval from ``moment_components``, which ``contrast`` uses (checked below)."""
    truth = model.true_delta(1)
    hit, labels = model.hits(rng, studies, seeds, queries)
    d = hit[:, 1].astype(np.float64) - hit[:, 0]
    seed_var, test_var, df = moment_components(d, labels)
    half = sps.t.ppf(0.975, df) * np.sqrt(seed_var / seeds + test_var)
    ours = np.abs(d.mean(axis=(1, 2)) - truth) <= half
    with warnings.catch_warnings():  # scipy's precision warning on near-constant seeds
        warnings.simplefilter("ignore", RuntimeWarning)
        w = sps.ttest_ind(hit[:, 1].mean(-1), hit[:, 0].mean(-1), axis=1, equal_var=False).confidence_interval()
    theirs = (w.low <= truth) & (truth <= w.high)
    return float(ours.mean()), float(theirs.mean())


def test_interval_covers_when_the_test_set_noise_dominates():
    # Little training noise, much per-query disagreement between the losses: the seed spread
    # (Welch) misses most of the noise, the interval with the test-query component does not.
    model = Model(sd_seed=0.0, sd_loss_seed=0.05, sd_loss_query=0.8, uniform_per_seed=False)
    ours, welchs = coverage(model, 1000, 4, 500, np.random.default_rng(12))
    assert ours >= 0.93
    assert welchs < 0.85


def test_contrast_covers_the_true_delta_in_95_percent_of_1000_studies_through_the_api():
    model, rng = Model(), np.random.default_rng(13)
    truth, covered = model.true_delta(1), 0
    for _ in range(5):
        hit, labels = model.hits(rng, 200, SEEDS, QUERIES)
        for study in hit:
            r = runs(study, labels)
            c = contrast(r[1], r[0], "recall@1")
            covered += c.ci_low <= truth <= c.ci_high
    assert 0.93 <= covered / 1000 <= 0.97


@pytest.mark.slow
def test_bootstrap_interval_covers_the_true_delta():
    # The method of the clustering metrics, checked where the truth is known: Recall@1, 400
    # studies of 5 seeds x 1,000 queries, 300 resamples each (about 30 s).
    model, rng = Model(), np.random.default_rng(21)
    truth, covered = model.true_delta(1), 0
    for chunk in range(2):
        hit, labels = model.hits(rng, 200, SEEDS, QUERIES)
        for i, study in enumerate(hit):
            r = runs(study, labels)
            c = contrast(r[1], r[0], "recall@1", method="bootstrap", n_boot=300, boot_seed=200 * chunk + i)
            covered += c.ci_low <= truth <= c.ci_high
    assert 0.93 <= covered / 400 <= 0.985


def naive_components(d: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """seed_var and test_var written out with loops: the two-way ANOVA mean squares."""
    s, q = d.shape
    grand = sum(sum(row) for row in d) / (s * q)
    row_means = [sum(d[i]) / q for i in range(s)]
    col_means = [sum(d[i][j] for i in range(s)) / s for j in range(q)]
    classes = sorted(set(labels.tolist()))
    class_mean = {c: np.mean([col_means[j] for j in range(q) if labels[j] == c]) for c in classes}
    ms_seed = q * sum((m - grand) ** 2 for m in row_means) / (s - 1)
    ms_query = s * sum((col_means[j] - class_mean[labels[j]]) ** 2 for j in range(q)) / (q - len(classes))
    ms_int = sum((d[i][j] - row_means[i] - col_means[j] + grand) ** 2 for i in range(s) for j in range(q)) / ((s - 1) * (q - 1))
    return ms_seed / q, max(0.0, (ms_query - ms_int) / (s * q))


def test_contrast_against_the_definitions():
    hit, labels = Model().hits(np.random.default_rng(3), 1, 3, 60)
    r = runs(hit[0], labels)
    c = contrast(r[1], r[0], "recall@1", candidate="New", baseline="CE")
    a, b = hit[0, 1].mean(axis=1), hit[0, 0].mean(axis=1)
    d = hit[0, 1].astype(float) - hit[0, 0]
    seed_var, test_var = naive_components(d, labels)
    assert c.delta == pytest.approx((a - b).mean(), abs=1e-15)
    assert c.per_seed_delta == pytest.approx(tuple(a - b), abs=1e-15)
    assert c.seed_var == pytest.approx(np.var(a - b, ddof=1), abs=1e-15)
    assert (c.seed_var, c.test_var) == pytest.approx((seed_var, test_var), abs=1e-15)
    assert c.se == pytest.approx(math.sqrt(seed_var / 3 + test_var), abs=1e-15)
    assert c.df == 2
    half = sps.t.ppf(0.975, 2) * c.se
    assert (c.ci_low, c.ci_high) == pytest.approx((c.delta - half, c.delta + half), abs=1e-12)
    assert c.p == pytest.approx(2 * sps.t.sf(abs(c.delta / c.se), 2), abs=1e-12)
    assert c.rho == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-12)
    assert c.effect_size == pytest.approx(c.delta / math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2), abs=1e-12)
    assert c.noise == NOISE_BOTH and "unadjusted 95%" in c.interval
    assert (c.candidate, c.baseline, c.n_seeds, c.n_queries) == ("New", "CE", 3, 60)


def test_vectorised_contrasts_of_the_simulations_equal_contrast():
    from .verdict_sim import contrasts_at

    hit, labels = Model(effects=(0.0, 0.1, -0.2)).hits(np.random.default_rng(4), 2, 4, 200)
    fast = contrasts_at(hit, labels, 3)
    for s in range(2):
        r = runs(hit[s], labels)
        for i in (1, 2):
            slow = contrast(r[i][:3], r[0][:3], "recall@1")
            f = fast[s][i - 1]
            assert (f.delta, f.se, f.df, f.seed_var, f.test_var) == pytest.approx(
                (slow.delta, slow.se, slow.df, slow.seed_var, slow.test_var), abs=1e-14)


def test_paired_interval_is_narrower_than_welchs_when_the_losses_share_the_seed_noise():
    # A large seed effect shared by both losses (same initialisation and batches): rho > 0.
    model = Model(sd_seed=0.5, sd_loss_seed=0.05, sd_loss_query=0.2)
    hit, labels = model.hits(np.random.default_rng(5), 100, 5, 2000)
    narrower, rhos = 0, []
    for study in hit:
        r = runs(study, labels)
        c = contrast(r[1], r[0], "recall@1")
        w = welch(study[1].mean(axis=1), study[0].mean(axis=1))
        narrower += (c.ci_high - c.ci_low) < (w.ci_high - w.ci_low)
        rhos.append(c.rho)
    assert np.mean(rhos) > 0.5
    assert narrower >= 90


def test_bootstrap_agrees_with_the_moments_on_a_mean_metric():
    # The cross-check: on Recall@1 both methods estimate the same two components.
    model = Model(sd_loss_seed=0.05, sd_loss_query=0.6)
    hit, labels = model.hits(np.random.default_rng(6), 3, 5, 1000)
    for study in hit:
        r = runs(study, labels)
        m = contrast(r[1], r[0], "recall@1", method="moments")
        b = contrast(r[1], r[0], "recall@1", method="bootstrap", n_boot=1000, boot_seed=1)
        assert b.method == "bootstrap" and b.delta == m.delta and b.seed_var == pytest.approx(m.seed_var, abs=1e-15)
        assert b.test_var == pytest.approx(m.test_var, rel=0.25)
        assert b.se == pytest.approx(m.se, rel=0.1)


def test_bootstrap_on_the_clustering_metrics_is_reproducible_and_finite():
    hit, labels = Model().hits(np.random.default_rng(7), 1, 3, 300)
    rng = np.random.default_rng(8)
    cand, base = runs(hit[0], labels)[1], runs(hit[0], labels)[0]
    for rec in (*cand, *base):  # a k-means partition that agrees with the label 80% of the time
        rec["cluster"] = np.where(rng.random(labels.size) < 0.8, labels, rng.integers(0, 10, labels.size))
    for metric in ("nmi", "f1", "macro_f1"):
        c1 = contrast(cand, base, metric, n_boot=200, boot_seed=3)
        c2 = contrast(cand, base, metric, n_boot=200, boot_seed=3)
        assert c1 == c2 and c1.method == "bootstrap" and c1.testable and np.isfinite(c1.se) and c1.se > 0
    with pytest.raises(ValueError, match="not a mean over queries"):
        contrast(cand, base, "nmi", method="moments")


# Edge cases of the contrast and of the verdicts.

def made(delta: float, se: float, *, seeds: int = 5, seed_var: float | None = None, test_var: float = 0.0) -> Contrast:
    seed_var = seeds * (se**2 - test_var) if seed_var is None else seed_var
    return Contrast(metric="map@r", candidate="x", baseline="b", method="moments", n_seeds=seeds, n_queries=1000,
                    delta=delta, candidate_mean=0.5 + delta, baseline_mean=0.5, per_seed_delta=(), testable=True,
                    se=se, df=seeds - 1, seed_var=seed_var, test_var=test_var, noise=NOISE_BOTH)


def test_one_seed_is_undecided_with_a_reason():
    hit, labels = Model().hits(np.random.default_rng(9), 1, 1, 100)
    r = runs(hit[0], labels)
    c = contrast(r[1], r[0], "recall@1")
    assert not c.testable and "one seed" in c.reason and math.isnan(c.ci_low) and math.isnan(c.p)
    (v,) = decide([c])
    assert v.verdict == "undecided" and "one seed" in v.reason and v.seeds_needed is None


def test_identical_losses_have_no_variation_and_stay_undecided():
    hit, labels = Model().hits(np.random.default_rng(10), 1, 3, 100)
    r = runs(hit[0], labels)
    c = contrast(r[0], r[0], "recall@1")
    assert c.delta == 0 and not c.testable and "no variation" in c.reason
    (v,) = decide([c, ])
    assert v.verdict == "undecided" and "no variation" in v.reason


def test_unpaired_or_mismatched_runs_are_refused():
    hit, labels = Model().hits(np.random.default_rng(10), 1, 3, 100)
    r = runs(hit[0], labels)
    with pytest.raises(RecordsError, match="same seeds"):
        contrast(r[1], r[0][:2], "recall@1")
    other = records(hit[0, 0, 0], np.roll(labels, 1))
    with pytest.raises(RecordsError, match="other test queries"):
        contrast(r[1], [other, *r[0][1:]], "recall@1")


def test_a_single_contrast_is_tested_at_alpha():
    c = made(0.02, 0.007)
    (v,) = decide([c])
    assert v.family == 1 and v.p_holm == pytest.approx(c.p) and v.confidence == pytest.approx(0.95)
    assert (v.ci_low, v.ci_high) == pytest.approx(c.interval_at(0.95))
    assert v.verdict == ("better" if c.p < 0.05 else "undecided")
    (w,) = decide([made(-0.03, 0.007)])
    assert w.verdict == "worse" and w.ci_high < 0


def test_holm_adjusted_intervals_agree_with_the_holm_decisions():
    rng = np.random.default_rng(14)
    for _ in range(200):
        cs = [made(float(d), 0.01) for d in rng.normal(0, 0.025, size=rng.integers(1, 7))]
        vs = decide(cs, margin=1e-9)  # no equivalence
        p_holm = holm([c.p for c in cs])
        for c, v, ph in zip(cs, vs, p_holm):
            assert v.p_holm == pytest.approx(ph)
            excludes = v.ci_low > 0 or v.ci_high < 0
            assert excludes == (ph < 0.05) == (v.verdict in ("better", "worse"))
            assert v.verdict in VERDICTS


def test_holm_levels_by_hand():
    adjusted, levels = holm_levels([0.01, 0.04, 0.03, math.nan], 0.05)
    # sorted: 0.01 (x3 = 0.03 < 0.05, rejected at 0.05/3), 0.03 (x2 = 0.06: stop), 0.04
    assert adjusted[:3] == pytest.approx([0.03, 0.06, 0.06]) and math.isnan(adjusted[3])
    assert levels[:3] == pytest.approx([0.05 / 3, 0.05 / 2, 0.05 / 2]) and math.isnan(levels[3])


def test_equivalence_is_the_two_one_sided_tests():
    c = made(0.001, 0.003, seeds=10)
    (v,) = decide([c], margin=0.01)
    t = sps.t.ppf(0.95, 9)
    assert (v.tost_low, v.tost_high) == pytest.approx((0.001 - t * 0.003, 0.001 + t * 0.003))
    assert v.verdict == "equivalent" and -0.01 < v.tost_low and v.tost_high < 0.01
    p_tost = max(sps.t.sf((0.001 + 0.01) / 0.003, 9), sps.t.cdf((0.001 - 0.01) / 0.003, 9))
    assert v.p_equivalence == pytest.approx(p_tost)
    (u,) = decide([made(0.004, 0.004, seeds=10)], margin=0.01)  # interval reaches past +0.01
    assert u.verdict == "undecided" and u.tost_high > 0.01 and u.seeds_needed is not None


def test_different_but_within_the_margin_is_better_with_the_flag():
    (v,) = decide([made(0.004, 0.001, seeds=10)], margin=0.01)
    assert v.verdict == "better" and v.within_margin


def test_seeds_needed_by_the_formula():
    c = made(0.01, 0.008, seeds=3, seed_var=1.5e-4, test_var=4e-6)
    n, reason = seeds_for_power(c, margin=0.01, alpha_diff=0.05, alpha_equiv=0.05, power=0.8)

    def enough(k):  # (t_{0.975, k-1} + t_{0.8, k-1}) * SE(k) <= |Δ|
        return (sps.t.ppf(0.975, k - 1) + sps.t.ppf(0.8, k - 1)) * math.sqrt(1.5e-4 / k + 4e-6) <= 0.01

    assert reason == "" and enough(n) and not enough(n - 1)
    # the normal-approximation bound is below it (t quantiles are larger)
    z = sps.norm.ppf(0.975) + sps.norm.ppf(0.8)
    assert n >= math.ceil(1.5e-4 / ((0.01 / z) ** 2 - 4e-6))
    (v,) = decide([c], margin=0.01)
    assert v.verdict == "undecided" and v.seeds_needed == n and v.more_seeds == n - 3


def test_no_number_of_seeds_when_the_test_set_noise_is_too_large():
    c = made(0.005, 0.02, seeds=3, seed_var=1e-4, test_var=3e-4)
    n, reason = seeds_for_power(c, margin=0.01, alpha_diff=0.05, alpha_equiv=0.05)
    assert n is None and "larger test set" in reason
    (v,) = decide([c])
    assert v.verdict == "undecided" and v.seeds_needed is None and "larger test set" in v.reason


def test_verdict_words_are_the_four():
    cs = [made(0.03, 0.005), made(-0.03, 0.005), made(0.0, 0.001), made(0.005, 0.01)]
    assert [v.verdict for v in decide(cs)] == ["better", "worse", "equivalent", "undecided"]
    assert set(VERDICTS) == {"better", "worse", "equivalent", "undecided"}


def test_pooled_seed_variance_of_two_losses_is_the_paired_one_and_of_more_gains_df():
    from modbench.results.verdict import pooled_seed_variance

    hit, labels = Model(effects=(0.0, 0.1, 0.2, -0.1)).hits(np.random.default_rng(15), 1, 4, 300)
    r = runs(hit[0], labels)
    own = contrast(r[1], r[0], "recall@1")
    two = pooled_seed_variance([r[0], r[1]], "recall@1")
    assert two.var == pytest.approx(own.seed_var, abs=1e-15) and two.df == 3
    four = pooled_seed_variance(r, "recall@1")
    y = hit[0].mean(axis=2)  # [loss, seed]
    resid = y - y.mean(1, keepdims=True) - y.mean(0, keepdims=True) + y.mean()
    assert four.var == pytest.approx(2 * (resid**2).sum() / 9, abs=1e-15) and four.df == 9
    c = contrast(r[1], r[0], "recall@1", pooled=four)
    assert c.df == 9 and c.seed_var == four.var and "pooled over the suite's 4 losses" in c.seed_variance
    assert c.se == pytest.approx(math.sqrt(four.var / 4 + own.test_var))
    with pytest.raises(ValueError, match="pooled seed variance"):
        contrast(r[1], r[0], "map@r", pooled=four)


def test_the_statistics_are_torch_and_sklearn_free():
    import subprocess
    import sys

    code = ("import sys, modbench.results.verdict, modbench.results.sequential; "
            "bad = [m for m in ('torch', 'sklearn') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
