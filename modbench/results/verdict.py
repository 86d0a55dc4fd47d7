"""Paired contrasts of a loss against the baseline, and verdicts over a family of them.

Pure functions (numpy and scipy, no torch, no printing, no I/O) over the per-query records of
runs (``modbench.results.query_metrics``: one dict of numpy arrays per run, the same test queries
in the same order for every run).

API
---
``contrast(candidate_runs, baseline_runs, metric, *, alpha=0.05, method="auto", n_boot=1000,
boot_seed=0, candidate="", baseline="", pooled=None) -> Contrast``
    Δ = mean over seeds of metric(candidate) - metric(baseline), paired by position (run i of each
    list is seed i: same initialisation and batches), with its standard error, S - 1 degrees of
    freedom and unadjusted 1 - alpha t interval covering both noise sources; the
    within-seed correlation ρ and an effect size. ``method``: "moments" (mean-decomposable
    metrics: recall@k, map@r, p@1), "bootstrap" (any metric), "auto" (moments where it applies,
    else the bootstrap).

``pooled_seed_variance(runs_by_loss, metric) -> PooledSeedVariance``
    Optional: the seed-to-seed variance of a difference pooled over every loss of the suite
    (seed-blocked two-way table), for ``contrast(..., pooled=...)``.

``decide(contrasts, *, margin=0.01, alpha=0.05, power=0.8) -> list[Verdict]``
    The primary family (every candidate against the baseline on the suite's primary metric):
    Holm over the family; "better" / "worse" when the Holm-adjusted interval excludes 0,
    "equivalent" when the Holm-adjusted two one-sided tests put the interval inside ±margin,
    otherwise "undecided" with the seeds a power calculation says would decide it.

Secondary metrics are described by their ``Contrast`` alone: its interval is unadjusted and its
``interval`` field says so; no verdict word is attached to them.

``seeds_for_power(contrast, *, margin, alpha_diff, alpha_equiv, power=0.8) -> (int | None, str)``
    The total seeds at which a contrast would be decided (used by ``decide`` and the sequential
    rule).

The sequential rule for adding seeds is in ``modbench.results.sequential``; the metrics from
per-query records in ``modbench.results.query_metrics``. Records that do not pair (other test
queries, unequal numbers of seeds) raise ``RecordsError`` (a ``UserError``: exit 2).

The model and the two noise sources
-----------------------------------
Every seed of every loss is evaluated on the same fixed test queries, and the losses of one seed
share their initialisation and batches. For a mean-decomposable metric the per-query differences
d[s, q] = value(candidate, s, q) - value(baseline, s, q) of S seeds and Q queries follow a
two-way crossed random-effects model

    d[s, q] = Δ + u_s + v_q + w_sq,   Var u = σ²_u (training: seed), Var v = σ²_v (test query),
                                      Var w = σ²_w (their interaction, incl. Bernoulli noise)

so Var(Δ̂) = σ²_u/S + σ²_v/Q + σ²_w/(SQ). The seed spread alone (Welch over seeds) estimates
σ²_u/S + σ²_w/(SQ) and misses σ²_v/Q: with a fixed test set, the test-sampling noise is the same
in every seed and never shows as spread. By the method of moments (expected mean squares of the
two-way ANOVA without replication; Searle, Casella and McCulloch, "Variance Components", 1992,
ch. 4; the same combination is in Cornfield and Tukey 1956):

    MS_seed  = Q · s²(per-seed means)                 E = Q σ²_u + σ²_w     df S - 1
    MS_query = S · s²(per-query means within class)   E = S σ²_v + σ²_w     df Q - C
    MS_int   = residual of the two-way fit            E = σ²_w              df (S-1)(Q-1)

    Var(Δ̂) = s²(per-seed means)/S  +  max(0, MS_query - MS_int)/(S Q)
           = [seed component]      +  [test-query component, σ̂²_v/Q]

The per-query means are centred within their class: the test set's class composition is fixed
(class-stratified sampling), so differences between classes add no sampling variance. The interval
is Δ̂ ± t_{1-α/2, S-1} · SE: the degrees of freedom are the S - 1 of the seed component. Satterthwaite's
approximation (1946), which would credit the well-estimated test-query component with its Q - C,
was measured on the logistic model of tests/results/verdict_sim.py to be liberal at 3 to 5 seeds
(1.1 to 1.6 times the nominal rate at α = 0.05, 2 to 25 times at the small levels of the first
looks of the sequential rule): a seed variance that is small by chance both shrinks the SE and
raises the df. The t_{S-1} reference is exact when the test-query component is 0 and conservative
otherwise (the statistic is then between t_{S-1} and normal).

For metrics that are not a mean over queries (nmi, f1, macro_f1) the same two components are
estimated by a bootstrap: the seed component is s²(per-seed Δ)/S exactly as above, and the
test-query component from B class-stratified resamples of the queries that are *shared* by every
seed and both losses (a paired resample). With T² = the bootstrap variance of Δ̂ and τ̄² = the mean
over seeds of the bootstrap variance of one seed's Δ, T² ≈ σ²_v/Q + σ²_w/(SQ) and τ̄² ≈ (σ²_v +
σ²_w)/Q, so σ̂²_v/Q = T² - (τ̄² - T²)/(S - 1). Why not a plain two-level bootstrap (resample seeds,
then queries within each seed): with queries resampled independently per seed it shrinks the
test-query component to σ²_v/(SQ), and with seeds and queries resampled jointly it counts the
interaction three times (3 σ²_w/(SQ)); no bootstrap of a crossed array is unbiased (McCullagh,
"Resampling and exchangeable arrays", Bernoulli 2000; Owen, "The pigeonhole bootstrap", Ann. Appl.
Stat. 2007). Estimating the components and combining them as above is. On a mean-decomposable metric the bootstrap
and the moments agree (tests/results/test_verdict.py), which is the cross-check.

What neither covers: the neighbour lists and the k-means partition were computed on the full test
set, so a resample varies the queries, not the gallery they are searched in nor the clustering.

The seed-to-seed variance is estimated per contrast from its own per-seed differences (a paired
analysis, S - 1 df) by default. ``pooled_seed_variance`` gives the seed-blocked alternative: the
residual variance of the (loss x seed) table of per-seed values over every loss of the suite,
(L - 1)(S - 1) df, which ``contrast(..., pooled=...)`` uses instead; it assumes the losses have the
same seed-to-seed variance. The test-query component is always the contrast's own.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import special  # the t and normal distributions, without scipy.stats' per-call overhead

from modbench.results.query_metrics import (
    RecordsError,
    check_same_queries,
    is_mean_decomposable,
    metric_from_weights,
    per_query_values,
)
from modbench.results.stats import holm

ALPHA = 0.05
MARGIN = 0.01
POWER = 0.8
N_BOOT = 1000
METHODS = ("auto", "moments", "bootstrap")
VERDICTS = ("better", "worse", "equivalent", "undecided")
NOISE_BOTH = "seeds (training) and test queries (class-stratified sampling)"
NOISE_NONE = "none: not estimable"


@dataclass(frozen=True)
class Contrast:
    """A candidate against the baseline on one metric, paired by seed over the same test queries.

    ``delta`` = mean over seeds of metric(candidate) - metric(baseline). ``se``² = ``seed_var``/S +
    ``test_var``: ``seed_var`` is the sample variance (ddof 1) of the per-seed differences (their
    training noise), ``test_var`` the test-query component of Var(Δ̂), which more seeds do not
    shrink. ``ci_low``/``ci_high``: the *unadjusted* 1 - alpha t interval (``interval`` says so);
    ``decide`` gives the Holm-adjusted one of a primary contrast. ``noise``: the noise sources the
    interval covers. ``rho``: Pearson correlation of the two losses' per-seed values (NaN under 3
    seeds or without spread). ``effect_size``: Δ over the root mean of the two losses' seed
    variances (Cohen's d in units of the seed-to-seed spread; NaN without spread).
    """

    metric: str
    candidate: str
    baseline: str
    method: str
    n_seeds: int
    n_queries: int
    delta: float
    candidate_mean: float
    baseline_mean: float
    per_seed_delta: tuple[float, ...]
    testable: bool
    reason: str = ""  # why not testable
    se: float = math.nan
    df: float = math.nan
    seed_var: float = math.nan
    test_var: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    alpha: float = ALPHA
    rho: float = math.nan
    effect_size: float = math.nan
    noise: str = NOISE_NONE
    interval: str = ""
    seed_variance: str = ""  # how seed_var was estimated (this contrast's seeds, or pooled over the suite's losses)

    @property
    def t(self) -> float:
        return self.delta / self.se if self.testable else math.nan

    @property
    def p(self) -> float:
        """Two-sided p of Δ = 0, unadjusted; NaN when not testable."""
        if not self.testable:
            return math.nan
        return float(2 * special.stdtr(self.df, -abs(self.t)))

    def p_equivalence(self, margin: float) -> float:
        """p of the two one-sided tests of |Δ| >= margin (the larger of the two p's), unadjusted."""
        if not self.testable:
            return math.nan
        lower = special.stdtr(self.df, -(self.delta + margin) / self.se)  # H0: Δ <= -margin
        upper = special.stdtr(self.df, (self.delta - margin) / self.se)  # H0: Δ >= +margin
        return float(max(lower, upper))

    def interval_at(self, level: float) -> tuple[float, float]:
        """The two-sided t interval with confidence ``level``."""
        if not self.testable:
            return (math.nan, math.nan)
        half = float(special.stdtrit(self.df, 0.5 + level / 2)) * self.se
        return (self.delta - half, self.delta + half)

    def se_at(self, n_seeds: int) -> float:
        """The standard error this contrast would have with ``n_seeds`` seeds, at the observed
        variance components (the test-query component does not shrink)."""
        return math.sqrt(self.seed_var / n_seeds + self.test_var)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(np.corrcoef(a, b)[0, 1])


def _effect_size(delta: float, a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 2:
        return math.nan
    sd = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    return delta / sd if sd > 0 else math.nan


def _strata(labels: np.ndarray) -> tuple[np.ndarray, int]:
    _, inverse = np.unique(labels, return_inverse=True)
    inverse = inverse.reshape(-1)
    return inverse, int(inverse.max()) + 1


def moment_components(d: np.ndarray, strata: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Method-of-moments (seed_var, test_var, df) of per-query differences ``d`` [..., S, Q]
    (vectorised over leading axes) with the queries' classes ``strata`` [Q] (codes 0..C-1).

    seed_var = s²(per-seed means); test_var = max(0, MS_query - MS_int)/(S Q) with the per-query
    means centred within class; df = S - 1 (see the module docstring)."""
    d = np.asarray(d, dtype=np.float64)
    s, q = d.shape[-2:]
    c = int(strata.max()) + 1
    onehot = np.zeros((q, c))
    onehot[np.arange(q), strata] = 1.0
    counts = onehot.sum(axis=0)
    row = d.mean(axis=-1)
    col = d.mean(axis=-2)
    grand = row.mean(axis=-1)
    ms_seed = q * ((row - grand[..., None]) ** 2).sum(axis=-1) / (s - 1)
    col_within = col - ((col @ onehot) / counts) @ onehot.T
    ms_query = s * (col_within**2).sum(axis=-1) / (q - c)
    resid = d - row[..., :, None] - col[..., None, :] + grand[..., None, None]
    ms_int = (resid**2).sum(axis=(-1, -2)) / ((s - 1) * (q - 1))
    seed_var = ms_seed / q
    test_var = np.maximum((ms_query - ms_int) / (s * q), 0.0)
    df = np.full(np.shape(seed_var), float(s - 1))
    return seed_var, test_var, df


def stratified_weights(strata: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """[n_boot, Q] counts of a class-stratified resample of the queries: each class's n_c queries
    drawn n_c times with replacement."""
    q = strata.shape[0]
    w = np.zeros((n_boot, q), dtype=np.float64)
    for c in range(int(strata.max()) + 1):
        members = np.flatnonzero(strata == c)
        w[:, members] = rng.multinomial(members.size, np.full(members.size, 1.0 / members.size), size=n_boot)
    return w


def bootstrap_components(
    candidate_runs: Sequence[dict], baseline_runs: Sequence[dict], metric: str, strata: np.ndarray,
    n_boot: int, seed: int,
) -> tuple[float, float, float]:
    """(seed_var, test_var, df) by the paired class-stratified query bootstrap (module docstring)."""
    s, q = len(candidate_runs), strata.shape[0]
    full = np.ones((1, q))
    per_seed = np.array([
        metric_from_weights(a, metric, full)[0] - metric_from_weights(b, metric, full)[0]
        for a, b in zip(candidate_runs, baseline_runs)
    ])
    rng = np.random.default_rng(seed)
    parts = []
    chunk = max(1, 4_000_000 // q)  # resamples per chunk: bounds the memory of the weights
    for start in range(0, n_boot, chunk):
        w = stratified_weights(strata, min(chunk, n_boot - start), rng)  # shared by every seed and both losses
        parts.append(np.stack([metric_from_weights(a, metric, w) - metric_from_weights(b, metric, w)
                               for a, b in zip(candidate_runs, baseline_runs)]))
    boot = np.concatenate(parts, axis=1)  # [S, B]
    t2 = boot.mean(axis=0).var(ddof=1)
    tau2 = boot.var(axis=1, ddof=1).mean()
    test_var = max(0.0, t2 - (tau2 - t2) / (s - 1))
    seed_var = per_seed.var(ddof=1)
    df = s - 1
    return float(seed_var), float(test_var), float(df)


@dataclass(frozen=True)
class PooledSeedVariance:
    """The seed-to-seed variance of a difference between two losses, pooled over a suite's losses.

    ``var`` = 2 · MS_residual of the two-way (loss x seed) table of per-seed metric values, with
    ``df`` = (L - 1)(S - 1) degrees of freedom: the seed-blocked analysis, which assumes every loss
    has the same seed-to-seed variance around the shared seed effect."""

    metric: str
    var: float
    df: int
    losses: int
    seeds: int


def pooled_seed_variance(runs_by_loss: Sequence[Sequence[dict]], metric: str) -> PooledSeedVariance:
    """``PooledSeedVariance`` of ``metric`` over ``runs_by_loss`` (every loss of the suite, the
    baseline included; each the same seeds in the same order)."""
    if len(runs_by_loss) < 2:
        raise RecordsError("pooling the seed variance needs at least 2 losses")
    seeds = {len(r) for r in runs_by_loss}
    if len(seeds) != 1 or min(seeds) < 2:
        raise RecordsError(f"pooling the seed variance needs the same 2 or more seeds for every loss, got {sorted(seeds)}")
    n = check_same_queries([run for runs in runs_by_loss for run in runs])
    full = np.ones((1, n))
    y = np.array([[metric_from_weights(r, metric, full)[0] for r in runs] for runs in runs_by_loss])
    n_loss, n_seed = y.shape
    resid = y - y.mean(axis=1, keepdims=True) - y.mean(axis=0, keepdims=True) + y.mean()
    df = (n_loss - 1) * (n_seed - 1)
    return PooledSeedVariance(metric=metric, var=float(2 * (resid**2).sum() / df), df=df, losses=n_loss, seeds=n_seed)


def contrast(
    candidate_runs: Sequence[dict],
    baseline_runs: Sequence[dict],
    metric: str,
    *,
    alpha: float = ALPHA,
    method: str = "auto",
    n_boot: int = N_BOOT,
    boot_seed: int = 0,
    candidate: str = "",
    baseline: str = "",
    pooled: PooledSeedVariance | None = None,
) -> Contrast:
    """The paired contrast of ``candidate_runs`` against ``baseline_runs`` (per-query records,
    paired by position: run i of both is seed i) on ``metric``. See the module docstring.

    ``pooled``: use this seed variance (``pooled_seed_variance`` over the suite's losses, same
    metric and seeds) and its degrees of freedom instead of the contrast's own.

    Not testable (no interval, ``reason`` says why): a single seed (no seed-to-seed variance can
    be estimated), fewer than 2 test queries per class, or no variation at all."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if len(candidate_runs) != len(baseline_runs):
        raise RecordsError(
            f"a paired contrast needs the same seeds on both sides: {len(candidate_runs)} candidate "
            f"runs vs {len(baseline_runs)} baseline runs"
        )
    if not candidate_runs:
        raise RecordsError("a contrast needs at least one seed")
    n = check_same_queries([*candidate_runs, *baseline_runs])
    decomposable = is_mean_decomposable(metric)
    if method == "auto":
        method = "moments" if decomposable else "bootstrap"
    if method == "moments" and not decomposable:
        raise ValueError(f"{metric} is not a mean over queries: use method='bootstrap'")

    full = np.ones((1, n))
    cand = np.array([metric_from_weights(r, metric, full)[0] for r in candidate_runs])
    base = np.array([metric_from_weights(r, metric, full)[0] for r in baseline_runs])
    per_seed = cand - base
    s = len(candidate_runs)
    delta = float(per_seed.mean())
    strata, n_classes = _strata(np.asarray(candidate_runs[0]["label"]))
    common = dict(
        metric=metric, candidate=candidate, baseline=baseline, method=method, n_seeds=s, n_queries=n,
        delta=delta, candidate_mean=float(cand.mean()), baseline_mean=float(base.mean()),
        per_seed_delta=tuple(float(x) for x in per_seed), alpha=alpha,
        rho=_pearson(cand, base), effect_size=_effect_size(delta, cand, base),
    )
    if s < 2:
        return Contrast(testable=False, reason="one seed: the seed-to-seed variance cannot be estimated (needs 2 or more)", **common)
    if n - n_classes < 1:
        return Contrast(testable=False, reason="one test query per class: the test-query variance cannot be estimated", **common)

    if method == "moments":
        d = np.stack([per_query_values(a, metric) - per_query_values(b, metric) for a, b in zip(candidate_runs, baseline_runs)])
        seed_var, test_var, df = (float(x) for x in moment_components(d, strata))
    else:
        seed_var, test_var, df = bootstrap_components(candidate_runs, baseline_runs, metric, strata, n_boot, boot_seed)
    how = f"paired: the {s} per-seed differences of this contrast ({s - 1} df)"
    if pooled is not None:
        if pooled.metric != metric or pooled.seeds != s:
            raise ValueError(f"the pooled seed variance is of {pooled.metric} over {pooled.seeds} seeds, not {metric} over {s}")
        seed_var, df = pooled.var, float(pooled.df)
        how = f"pooled over the suite's {pooled.losses} losses, seed-blocked ({pooled.df} df)"
    se = math.sqrt(seed_var / s + test_var)
    if not se > 0:
        return Contrast(testable=False, reason="no variation between seeds or test queries: no interval can be estimated",
                        seed_var=seed_var, test_var=test_var, **common)
    made = Contrast(testable=True, se=se, df=df, seed_var=seed_var, test_var=test_var, noise=NOISE_BOTH, seed_variance=how,
                    interval=f"unadjusted {100 * (1 - alpha):g}% t interval", **common)
    low, high = made.interval_at(1 - alpha)
    return _replace(made, ci_low=low, ci_high=high)


def _replace(obj, **changes):
    return dataclasses.replace(obj, **changes)


@dataclass(frozen=True)
class Verdict:
    """The verdict on one primary contrast.

    ``verdict``: "better" / "worse" (Holm-adjusted p of Δ = 0 below alpha: the adjusted interval
    ``ci_low``..``ci_high`` excludes 0), "equivalent" (Holm-adjusted TOST p below alpha: the
    adjusted ``tost_low``..``tost_high``, at ``tost_confidence``, lies inside ±margin), else "undecided". A contrast both
    different and within the margin is "better"/"worse" with ``within_margin`` True.
    ``confidence``: the confidence of the adjusted interval (1 - alpha/(m - r + 1) for the r-th
    smallest p that Holm rejects, 1 - alpha/(m - k) for the others, k = rejections), which makes
    the interval agree with the Holm decision. ``seeds_needed``: for an undecided contrast, the
    total number of seeds at which a test at its Holm level would decide it with probability
    ``power`` at the observed variance components (``more_seeds`` = seeds_needed - n_seeds, at
    least 1); None when decided, or when no number of seeds can (``reason``).
    """

    contrast: Contrast
    verdict: str
    margin: float
    alpha: float
    family: int  # how many testable contrasts the Holm adjustment counted
    p: float = math.nan
    p_holm: float = math.nan
    confidence: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    p_equivalence: float = math.nan
    p_equivalence_holm: float = math.nan
    tost_confidence: float = math.nan
    tost_low: float = math.nan
    tost_high: float = math.nan
    within_margin: bool = False
    seeds_needed: int | None = None
    more_seeds: int | None = None
    reason: str = ""
    interval: str = field(default="")


def holm_levels(pvalues: Sequence[float], alpha: float) -> tuple[list[float], list[float]]:
    """(Holm-adjusted p's, per-test alpha levels) in input order; NaN stays NaN and is not
    counted. The level of a test Holm rejects is alpha/(m - r + 1) at its rank r, of the others
    alpha/(m - k) with k rejections: an interval at 1 - level excludes 0 exactly when Holm rejects."""
    adjusted = holm(pvalues)
    order = sorted((p, i) for i, p in enumerate(pvalues) if not math.isnan(p))
    m = len(order)
    k = sum(1 for i in range(len(adjusted)) if not math.isnan(adjusted[i]) and adjusted[i] < alpha)
    levels = [math.nan] * len(adjusted)
    for rank, (_, i) in enumerate(order):
        levels[i] = alpha / (m - rank) if adjusted[i] < alpha else alpha / (m - k)
    return adjusted, levels


def _z(q: float) -> float:
    return float(special.ndtri(q))


MAX_SEEDS_NEEDED = 1000


def seeds_for_power(c: Contrast, *, margin: float, alpha_diff: float, alpha_equiv: float, power: float = POWER) -> tuple[int | None, str]:
    """Total seeds S' at which ``c`` would be decided with probability ``power`` at its observed
    variance components, and a reason when no number of seeds can.

    Either the test of Δ = 0 at two-sided level ``alpha_diff`` (effect E = |Δ̂|, q = 1 - α/2) or
    the equivalence test at one-sided level ``alpha_equiv`` (E = margin - |Δ̂| when |Δ̂| < margin,
    q = 1 - α) decides. S' is the smallest number of seeds (2 or more) with

        E >= (t_{q, S'-1} + t_{power, S'-1}) · sqrt(s²_seed / S' + V_test)

    (the t-based sample size of a paired t-test, with the test-query component V_test, which more
    seeds do not shrink, added), the smaller of the two. None when even infinitely many seeds
    would not do, i.e. E < (z_q + z_power) · sqrt(V_test): only a larger test set can decide it;
    or when S' would exceed 1,000."""
    options = []
    effects = [(abs(c.delta), 1 - alpha_diff / 2)]
    if abs(c.delta) < margin:
        effects.append((margin - abs(c.delta), 1 - alpha_equiv))
    limit_ok = False
    for effect, q in effects:
        if effect <= 0 or effect < (_z(q) + _z(power)) * math.sqrt(c.test_var):
            continue
        limit_ok = True
        n = np.arange(2, MAX_SEEDS_NEEDED + 1)
        need = (special.stdtrit(n - 1, q) + special.stdtrit(n - 1, power)) * np.sqrt(c.seed_var / n + c.test_var)
        ok = np.flatnonzero(need <= effect)
        if ok.size:
            options.append(int(n[ok[0]]))
    if options:
        return min(options), ""
    if limit_ok:
        return None, f"more than {MAX_SEEDS_NEEDED} seeds would be needed"
    return None, (
        f"the test queries' sampling noise alone (SE {math.sqrt(c.test_var):.4f}) is too large for any number "
        "of seeds to decide it at this power: a larger test set is needed"
    )


def decide(
    contrasts: Sequence[Contrast], *, margin: float = MARGIN, alpha: float = ALPHA, power: float = POWER
) -> list[Verdict]:
    """Verdicts on a family of primary contrasts (see ``Verdict``), in the order given.

    Holm's step-down adjustment runs over the testable contrasts, separately for the tests of
    Δ = 0 and for the equivalence tests, so the chance of any false "better"/"worse" and the chance
    of any false "equivalent" are each at most alpha."""
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha}")
    if not margin > 0:
        raise ValueError(f"margin must be > 0, got {margin}")
    ps = [c.p for c in contrasts]
    pes = [c.p_equivalence(margin) for c in contrasts]
    p_holm, levels = holm_levels(ps, alpha)
    pe_holm, e_levels = holm_levels(pes, alpha)
    family = sum(c.testable for c in contrasts)
    out = []
    for c, p, ph, lev, pe, peh, elev in zip(contrasts, ps, p_holm, levels, pes, pe_holm, e_levels):
        if not c.testable:
            out.append(Verdict(contrast=c, verdict="undecided", margin=margin, alpha=alpha, family=family, reason=c.reason))
            continue
        low, high = c.interval_at(1 - lev)
        tlow, thigh = c.interval_at(1 - 2 * elev)
        within = bool(peh < alpha)
        if ph < alpha:
            word, needed, reason = ("better" if c.delta > 0 else "worse"), None, ""
        elif within:
            word, needed, reason = "equivalent", None, ""
        else:
            word = "undecided"
            needed, reason = seeds_for_power(c, margin=margin, alpha_diff=lev, alpha_equiv=elev, power=power)
        out.append(Verdict(
            contrast=c, verdict=word, margin=margin, alpha=alpha, family=family, p=p, p_holm=ph,
            confidence=1 - lev, ci_low=low, ci_high=high, p_equivalence=pe, p_equivalence_holm=peh,
            tost_confidence=1 - 2 * elev, tost_low=tlow, tost_high=thigh, within_margin=within,
            seeds_needed=needed, more_seeds=None if needed is None else max(1, needed - c.n_seeds),
            reason=reason,
            interval=f"Holm-adjusted {100 * (1 - lev):.4g}% t interval over {family} primary contrasts; covers {c.noise}",
        ))
    return out
