"""Statistics over seeds: pure functions, no printing, no I/O.

- ``summarize``: mean, *sample* standard deviation (ddof=1, the n-1 denominator) and n.
- ``welch``: is the difference of two means larger than the seed-to-seed noise? Welch's
  two-sided t-test (``scipy.stats.ttest_ind(equal_var=False)``: unequal variances, unpaired)
  with the confidence interval of the difference. Fewer than two values on either side, or no
  variation at all on both sides, is "not testable": the test is not run and nothing is guessed.

- ``holm``: Holm-Bonferroni step-down adjusted p-values for a family of tests (several losses
  against one baseline), which control the family-wise error rate at alpha.

Values that are None or NaN (a metric undefined on a run's data) are dropped before anything is
computed; ``n`` counts the values actually used.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

# Imports inside functions here: scipy is imported when a test statistic is computed.

ALPHA = 0.05
TEST_NAME = "Welch's t-test (two-sided, unequal variances)"


def finite_values(values: Iterable[float | None]) -> list[float]:
    """The values that are numbers (None and NaN dropped), as floats."""
    return [float(v) for v in values if v is not None and not math.isnan(float(v))]


@dataclass(frozen=True)
class Summary:
    mean: float
    std: float  # sample standard deviation (ddof=1); NaN when n < 2
    n: int
    min: float
    max: float


def summarize(values: Iterable[float | None]) -> Summary | None:
    """Mean, sample std (ddof=1), n, min and max of the finite values; None when there are none."""
    xs = finite_values(values)
    n = len(xs)
    if n == 0:
        return None
    mean = math.fsum(xs) / n
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else math.nan
    return Summary(mean, std, n, min(xs), max(xs))


@dataclass(frozen=True)
class Comparison:
    """``candidate`` against ``baseline`` for one metric."""

    diff: float  # mean(candidate) - mean(baseline); NaN when a side has no value
    n_candidate: int
    n_baseline: int
    testable: bool
    reason: str = ""  # why not testable
    t: float = math.nan
    df: float = math.nan
    p: float = math.nan
    ci_low: float = math.nan  # confidence interval of diff at level 1 - alpha
    ci_high: float = math.nan
    alpha: float = ALPHA

    @property
    def significant(self) -> bool | None:
        """True when the difference exceeds the seed-to-seed noise (p < alpha); None when the
        test could not be run."""
        if not self.testable:
            return None
        return bool(self.p < self.alpha)


def welch(candidate: Iterable[float | None], baseline: Iterable[float | None], alpha: float = ALPHA) -> Comparison:
    """Welch's t-test of mean(candidate) - mean(baseline), two-sided, at level ``alpha``."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    a, b = finite_values(candidate), finite_values(baseline)
    diff = (math.fsum(a) / len(a) - math.fsum(b) / len(b)) if a and b else math.nan
    common = dict(diff=diff, n_candidate=len(a), n_baseline=len(b), alpha=alpha)
    if len(a) < 2 or len(b) < 2:
        return Comparison(testable=False, reason=f"fewer than 2 seeds ({len(a)} vs {len(b)})", **common)
    if max(a) == min(a) and max(b) == min(b):
        # Both sides constant: the t statistic is 0/0 or x/0; no noise estimate to test against.
        return Comparison(testable=False, reason="no seed-to-seed variation on either side", **common)

    from scipy import stats

    with warnings.catch_warnings():
        # scipy warns about precision loss for near-identical data; the result is still used.
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.ttest_ind(a, b, equal_var=False)
        ci = res.confidence_interval(confidence_level=1 - alpha)
    return Comparison(
        testable=True,
        t=float(res.statistic),
        df=float(res.df),
        p=float(res.pvalue),
        ci_low=float(ci.low),
        ci_high=float(ci.high),
        **common,
    )


HOLM_NAME = "Holm-Bonferroni step-down"


def holm(pvalues: Iterable[float]) -> list[float]:
    """Holm-adjusted p-values, in the input order. NaN (a test not run) stays NaN and is not
    counted in the family. With the m finite p-values sorted, p_(1) <= ... <= p_(m):
    adj_(i) = max over j <= i of min(1, (m - j + 1) * p_(j)).

    Written here because statsmodels (``multipletests(method="holm")``) is not a dependency and
    scipy has only the Benjamini-Hochberg/Yekutieli corrections (``false_discovery_control``)."""
    ps = [float(p) for p in pvalues]
    finite = sorted((p, i) for i, p in enumerate(ps) if not math.isnan(p))
    m = len(finite)
    out = [math.nan] * len(ps)
    running = 0.0
    for rank, (p, i) in enumerate(finite):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out
