"""modbench.results.stats against numpy and scipy on fixed numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from modbench.results.stats import finite_values, summarize, welch

SAMPLES = [
    ([0.60, 0.64, 0.61], [0.55, 0.57, 0.58]),
    ([0.5, 0.6], [0.7, 0.71, 0.72]),
    ([0.912, 0.915, 0.909, 0.921, 0.918], [0.905, 0.899]),
    ([1.0, 2.0, 3.0, 4.0], [1.5, 2.5, 3.5, 4.5]),
]


def welch_by_hand(a, b, alpha=0.05):
    """Welch's t-test written out: t, Welch-Satterthwaite df, two-sided p and the CI of the
    difference, from numpy moments and the t distribution."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    diff = a.mean() - b.mean()
    t = diff / se
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    p = 2 * sps.t.sf(abs(t), df)
    half = sps.t.ppf(1 - alpha / 2, df) * se
    return diff, t, df, p, diff - half, diff + half


def test_summarize_matches_numpy_sample_std():
    values = [0.71, 0.69, 0.74, 0.70]
    s = summarize(values)
    assert s.n == 4
    assert s.mean == pytest.approx(np.mean(values), abs=1e-15)
    assert s.std == pytest.approx(np.std(values, ddof=1), abs=1e-15)
    assert s.std != pytest.approx(np.std(values, ddof=0))  # the sample std, not the population std
    assert (s.min, s.max) == (0.69, 0.74)


def test_summarize_fixed_numbers():
    s = summarize([1.0, 2.0, 3.0, 4.0])
    assert s.mean == 2.5
    assert s.std == pytest.approx(math.sqrt(5 / 3))  # sum of squares 5, n - 1 = 3


def test_summarize_drops_missing_values_and_handles_small_n():
    s = summarize([0.5, None, float("nan"), 0.7])
    assert s.n == 2
    assert s.mean == pytest.approx(0.6)
    assert s.std == pytest.approx(np.std([0.5, 0.7], ddof=1))
    one = summarize([0.42])
    assert one.n == 1 and one.mean == 0.42 and math.isnan(one.std)
    assert summarize([]) is None
    assert summarize([None, float("nan")]) is None
    assert finite_values([1, None, float("nan"), 2.5]) == [1.0, 2.5]


@pytest.mark.parametrize("a,b", SAMPLES)
def test_welch_matches_scipy_and_the_formula(a, b):
    c = welch(a, b)
    ref = sps.ttest_ind(a, b, equal_var=False)
    assert c.testable
    assert c.t == pytest.approx(ref.statistic, rel=1e-12)
    assert c.p == pytest.approx(ref.pvalue, rel=1e-12)
    diff, t, df, p, lo, hi = welch_by_hand(a, b)
    assert c.diff == pytest.approx(diff, abs=1e-14)
    assert c.t == pytest.approx(t, rel=1e-10)
    assert c.df == pytest.approx(df, rel=1e-10)
    assert c.p == pytest.approx(p, rel=1e-9)
    assert (c.ci_low, c.ci_high) == (pytest.approx(lo, rel=1e-9), pytest.approx(hi, rel=1e-9))
    assert c.significant == (p < 0.05)
    assert (c.n_candidate, c.n_baseline) == (len(a), len(b))


def test_welch_decides_at_alpha():
    a, b = SAMPLES[0]
    p = sps.ttest_ind(a, b, equal_var=False).pvalue
    assert 0.01 < p < 0.05  # a fixed case between the two levels
    assert welch(a, b, alpha=0.05).significant is True
    assert welch(a, b, alpha=0.01).significant is False
    # the confidence interval follows the level: 99% is wider than 95%
    wide, narrow = welch(a, b, alpha=0.01), welch(a, b, alpha=0.05)
    assert wide.ci_low < narrow.ci_low and wide.ci_high > narrow.ci_high
    # and excludes zero exactly when the test rejects
    assert (narrow.ci_low > 0 or narrow.ci_high < 0) == narrow.significant


def test_welch_is_antisymmetric():
    a, b = SAMPLES[2]
    ab, ba = welch(a, b), welch(b, a)
    assert ab.diff == pytest.approx(-ba.diff)
    assert ab.t == pytest.approx(-ba.t)
    assert ab.p == pytest.approx(ba.p)


@pytest.mark.parametrize(
    "a,b,reason",
    [
        ([0.7], [0.6, 0.65], "fewer than 2 seeds (1 vs 2)"),
        ([0.7, 0.71], [0.6], "fewer than 2 seeds (2 vs 1)"),
        ([0.7, None, float("nan")], [0.6, 0.62], "fewer than 2 seeds (1 vs 2)"),
        ([], [0.6, 0.62], "fewer than 2 seeds (0 vs 2)"),
        ([0.5, 0.5], [0.6, 0.6, 0.6], "no seed-to-seed variation on either side"),
    ],
)
def test_welch_not_testable(a, b, reason):
    c = welch(a, b)
    assert not c.testable
    assert c.significant is None
    assert c.reason == reason
    assert math.isnan(c.p) and math.isnan(c.ci_low)
    expected = np.mean(finite_values(a)) - np.mean(finite_values(b)) if finite_values(a) else math.nan
    assert (math.isnan(c.diff) and math.isnan(expected)) or c.diff == pytest.approx(expected)


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")
def test_welch_one_constant_side_is_testable():
    c = welch([0.5, 0.5, 0.5], [0.6, 0.62, 0.61])
    ref = sps.ttest_ind([0.5, 0.5, 0.5], [0.6, 0.62, 0.61], equal_var=False)
    assert c.testable and c.p == pytest.approx(ref.pvalue)


def test_welch_rejects_bad_alpha():
    with pytest.raises(ValueError):
        welch([1, 2], [3, 4], alpha=1.5)


# -- Holm-Bonferroni ----------------------------------------------------------------------------
def naive_holm_rejections(pvalues, alpha):
    """Holm's procedure as its definition states it: sort the p-values, walk up from the smallest,
    reject H_(i) while p_(i) <= alpha / (m - i + 1), stop at the first that is not."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    m = len(pvalues)
    rejected = set()
    for rank, i in enumerate(order):
        if pvalues[i] <= alpha / (m - rank):
            rejected.add(i)
        else:
            break
    return rejected


def test_holm_matches_the_step_down_definition():
    import random

    from modbench.results.stats import holm

    rng = random.Random(0)
    for trial in range(300):
        m = rng.randint(1, 12)
        ps = [rng.random() ** rng.choice([1, 3, 6]) for _ in range(m)]
        adjusted = holm(ps)
        assert all(a >= p for a, p in zip(adjusted, ps)) and all(a <= 1 for a in adjusted)
        for alpha in (0.01, 0.05, 0.2):
            # an adjusted p below alpha is exactly a rejection of Holm's procedure at alpha
            assert {i for i, a in enumerate(adjusted) if a <= alpha} == naive_holm_rejections(ps, alpha), (ps, alpha)


def test_holm_known_values_and_untested_entries():
    import math

    from modbench.results.stats import holm

    # sorted 0.01, 0.03, 0.04 (m = 3): 3*0.01 = 0.03, max(0.03, 2*0.03) = 0.06, max(0.06, 1*0.04) = 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    out = holm([0.02, math.nan, 0.5])  # a test not run is not in the family
    assert out[0] == pytest.approx(0.04) and math.isnan(out[1]) and out[2] == pytest.approx(0.5)
    assert holm([]) == []
