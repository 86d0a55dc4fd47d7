"""Seeds until decided: a group-sequential rule over planned looks that keeps the family-wise error.

``compare --until-decided --max-seeds N --step K`` starts with the seeds it has (``initial``), and
after each look trains K more seeds of every contrast still undecided, up to N. The looks are planned
in advance from (initial, step, max seeds): n_j = min(initial + j·K, N), j = 0 .. J-1, and the
information fraction of look j is t_j = n_j / N.

API: ``SequentialPlan(initial_seeds, step, max_seeds, alpha=0.05, margin=0.01,
spending="obrien-fleming")`` (``seeds_at_looks``, ``looks``, ``look_of(n)``, ``spent``,
``threshold``) and ``sequential_decide(history, plan, *, power=0.8) -> SequentialDecision``, where
``history[j][i]`` is primary contrast i (``verdict.contrast`` on the first ``seeds_at_looks[j]``
seeds) or None once it stopped; the decision lists a ``SequentialVerdict`` per contrast, whether
the study is ``done`` and the seeds of the next look.

The rule (pure: a function of the contrasts at every look so far, so a resumed run, whose seeds
are all cached runs, replays the same decisions):

1. *Alpha spending* (Lan and DeMets, "Discrete sequential boundaries for clinical trials",
   Biometrika 70, 1983): a test at level a may spend A(t_j; a) - A(t_{j-1}; a) at look j, with
   A(1; a) = a. Spending functions: "obrien-fleming" A(t) = 2 - 2Φ(z_{1-a/2}/√t) (little early,
   nearly all of a at the last look; the default), "pocock" A(t) = a·ln(1 + (e-1)t) (Kim and DeMets,
   1987), and "bonferroni" A(t_j) = a·(j+1)/J (equal parts).
2. *Each look's share is spent as a Bonferroni level*: a contrast's test at level a rejects by
   look j when at some look i <= j its p-value is at most A(t_i; a) - A(t_{i-1}; a). By the union
   bound over looks this is a level-a test whatever the correlation between looks, which the exact
   group-sequential boundaries would need and which is not known here (t statistics with few
   degrees of freedom, and a test-query variance component that more seeds do not shrink). The
   price is a slightly conservative rule; with the O'Brien-Fleming shape almost all of a is left
   for the last look.
3. *Holm over the contrasts, with recycling* (the graphical approach for group-sequential trials:
   Maurer and Bretz, "Multiple testing in group sequential trials using graphical approaches",
   Stat. Biopharm. Res. 5, 2013; Holm's weights): with k contrasts rejected, every other contrast is
   tested at level alpha/(m - k) over all its looks so far; each rejection raises the level of the
   rest, rechecking their earlier looks. The closed test of Bonferroni intersection tests makes the
   probability of any false rejection, over every contrast and every look, at most alpha.
4. Two families, each run by steps 1-3 at alpha: the tests of Δ = 0 ("better" / "worse", by the
   sign of Δ̂) and the equivalence tests (two one-sided tests of |Δ| >= margin, "equivalent").
   A contrast is decided, and gets no more seeds, once either family rejects it; "better"/"worse"
   takes precedence over "equivalent".

A contrast's decision look is the first look at which the rule, replayed on the looks up to it,
rejects it. At the last planned look an undecided contrast stays "undecided", with the total seeds
a power calculation (``verdict.seeds_for_power``) at its last Holm level says it would need.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from modbench.errors import UserError
from modbench.results.verdict import ALPHA, MARGIN, POWER, Contrast, seeds_for_power

# Imports inside functions here: scipy is imported when a sequential decision is computed.

SPENDING = ("obrien-fleming", "pocock", "bonferroni")


@dataclass(frozen=True)
class SequentialPlan:
    """The planned looks: ``initial_seeds``, then ``step`` more per look, up to ``max_seeds``."""

    initial_seeds: int
    step: int
    max_seeds: int
    alpha: float = ALPHA
    margin: float = MARGIN
    spending: str = "obrien-fleming"

    def __post_init__(self):
        if self.initial_seeds < 1:
            raise UserError(f"the sequential rule needs at least 1 initial seed, got {self.initial_seeds}")
        if self.step < 1:
            raise UserError(f"--step must be at least 1, got {self.step}")
        if self.max_seeds < self.initial_seeds:
            raise UserError(f"--max-seeds {self.max_seeds} is below the {self.initial_seeds} seeds already planned")
        if not 0 < self.alpha < 0.5:
            raise UserError(f"alpha must be in (0, 0.5), got {self.alpha}")
        if not self.margin > 0:
            raise UserError(f"the margin must be > 0, got {self.margin}")
        if self.spending not in SPENDING:
            raise UserError(f"unknown spending function '{self.spending}' (choices: {', '.join(SPENDING)})")

    @property
    def seeds_at_looks(self) -> tuple[int, ...]:
        """n_j for every planned look j."""
        out = list(range(self.initial_seeds, self.max_seeds, self.step))
        return tuple([*out, self.max_seeds])

    @property
    def looks(self) -> int:
        return len(self.seeds_at_looks)

    def look_of(self, n_seeds: int) -> int:
        """The look index at which ``n_seeds`` seeds are evaluated."""
        try:
            return self.seeds_at_looks.index(n_seeds)
        except ValueError:
            raise UserError(f"{n_seeds} seeds is not a planned look (looks at {list(self.seeds_at_looks)} seeds)") from None

    def spent(self, look: int, level: float) -> float:
        """A(t_look; level): the alpha spent by a level-``level`` test up to and including ``look``."""
        return _spent(self, look, level)

    def threshold(self, look: int, level: float) -> float:
        """The p-value threshold of look ``look`` for a test at ``level``: its share of the spending."""
        return _spent(self, look, level) - _spent(self, look - 1, level)


@functools.lru_cache(maxsize=4096)
def _spent(plan: SequentialPlan, look: int, level: float) -> float:
    """``SequentialPlan.spent``, cached: the replay asks for the same few values many times."""
    if look < 0:
        return 0.0
    j = min(look, plan.looks - 1)
    if j == plan.looks - 1:
        return level
    t = plan.seeds_at_looks[j] / plan.max_seeds
    if plan.spending == "bonferroni":
        return level * (j + 1) / plan.looks
    if plan.spending == "pocock":
        return level * math.log(1 + (math.e - 1) * t)
    from scipy import special

    return float(2 * special.ndtr(special.ndtri(level / 2) / math.sqrt(t)))


@dataclass(frozen=True)
class SequentialVerdict:
    """One contrast after the latest look.

    ``verdict``: "better", "worse", "equivalent" or "undecided". ``decided_at_look`` (0-based) and
    ``seeds`` (the seeds of its latest evaluated look); ``needs_more_seeds``: undecided before the
    last planned look. ``seeds_needed``: for a contrast undecided at the last look, the total seeds
    a power calculation says would decide it (None with ``reason`` when none can)."""

    index: int
    contrast: Contrast | None
    verdict: str
    decided_at_look: int | None
    seeds: int
    needs_more_seeds: bool
    holm_alpha: float  # the Holm share of alpha (tests of Δ = 0) the contrast is tested at now
    threshold: float  # the p-value threshold of its latest look at that level
    seeds_needed: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class SequentialDecision:
    """Every contrast after ``look`` (0-based) of ``plan``; ``next_seeds``: the seeds of the next
    look for the contrasts that need more (None when ``done``)."""

    plan: SequentialPlan
    look: int
    seeds: int
    done: bool
    next_seeds: int | None
    verdicts: tuple[SequentialVerdict, ...]


def _pvalues(history: Sequence[Sequence[Contrast | None]], margin: float, equivalence: bool) -> list[list[float]]:
    """[contrast][look] p-values (NaN where not evaluated or not testable)."""
    m = len(history[0])
    out = [[math.nan] * len(history) for _ in range(m)]
    for j, look in enumerate(history):
        for i, c in enumerate(look):
            if c is not None and c.testable:
                out[i][j] = c.p_equivalence(margin) if equivalence else c.p
    return out


def _rejects(p: list[float], plan: SequentialPlan, level: float, upto: int) -> int | None:
    """The first look <= ``upto`` at which p is within that look's threshold at ``level``."""
    for j in range(upto + 1):
        if not math.isnan(p[j]) and p[j] <= plan.threshold(j, level):
            return j
    return None


def _holm_sequential(ps: list[list[float]], plan: SequentialPlan, upto: int) -> tuple[dict[int, int], float]:
    """Holm with recycling over the looks 0..``upto``: {contrast: the look whose p crossed}, and the
    level the unrejected contrasts are left at."""
    m = len(ps)
    rejected: dict[int, int] = {}
    while True:
        level = plan.alpha / (m - len(rejected)) if m > len(rejected) else plan.alpha
        new = {i: j for i in range(m) if i not in rejected
               for j in [_rejects(ps[i], plan, level, upto)] if j is not None}
        if not new:
            return rejected, level
        rejected.update(new)


def sequential_decide(
    history: Sequence[Sequence[Contrast | None]], plan: SequentialPlan, *, power: float = POWER
) -> SequentialDecision:
    """Decisions after the latest look of ``history``: ``history[j][i]`` is contrast i (the same
    family, in the same order, at every look) evaluated on the first ``plan.seeds_at_looks[j]``
    seeds, or None once it was decided at an earlier look (its seeds stopped). See the module
    docstring for the rule."""
    if not history or not history[0]:
        raise ValueError("sequential_decide needs at least one look of at least one contrast")
    m = len(history[0])
    if any(len(look) != m for look in history):
        raise ValueError("every look must list the same contrasts, in the same order (None where stopped)")
    if len(history) > plan.looks:
        raise ValueError(f"{len(history)} looks given, the plan has {plan.looks}")
    for j, look in enumerate(history):
        for c in look:
            if c is not None and c.n_seeds != plan.seeds_at_looks[j]:
                raise ValueError(f"look {j} must be evaluated on {plan.seeds_at_looks[j]} seeds, a contrast has {c.n_seeds}")

    p_diff = _pvalues(history, plan.margin, equivalence=False)
    p_equiv = _pvalues(history, plan.margin, equivalence=True)
    last = len(history) - 1
    # The first look at which the replayed rule rejects each contrast: decisions only grow with looks.
    diff_at: dict[int, tuple[int, int]] = {}  # contrast -> (decision look, look whose p crossed)
    equiv_at: dict[int, int] = {}
    for upto in range(last + 1):
        diff, level = _holm_sequential(p_diff, plan, upto)
        for i, crossed in diff.items():
            diff_at.setdefault(i, (upto, crossed))
        for i in _holm_sequential(p_equiv, plan, upto)[0]:
            equiv_at.setdefault(i, upto)
    final_level = level
    final_look = last == plan.looks - 1

    verdicts = []
    for i in range(m):
        evaluated = [j for j in range(last + 1) if history[j][i] is not None]
        latest = history[evaluated[-1]][i] if evaluated else None
        seeds = plan.seeds_at_looks[evaluated[-1]] if evaluated else 0
        threshold = plan.threshold(evaluated[-1], final_level) if evaluated else math.nan
        common = dict(index=i, contrast=latest, seeds=seeds, holm_alpha=final_level, threshold=threshold)
        if i in diff_at:
            at, crossed = diff_at[i]
            word = "better" if history[crossed][i].delta > 0 else "worse"
            verdicts.append(SequentialVerdict(verdict=word, decided_at_look=at, needs_more_seeds=False, **common))
        elif i in equiv_at:
            verdicts.append(SequentialVerdict(verdict="equivalent", decided_at_look=equiv_at[i], needs_more_seeds=False, **common))
        elif not final_look:
            reason = latest.reason if latest is not None and not latest.testable else ""
            verdicts.append(SequentialVerdict(verdict="undecided", decided_at_look=None, needs_more_seeds=True, reason=reason, **common))
        else:
            needed, reason = None, "not evaluated"
            if latest is not None and latest.testable:
                equiv_level = plan.alpha / (m - len(equiv_at)) if m > len(equiv_at) else plan.alpha
                needed, reason = seeds_for_power(latest, margin=plan.margin, alpha_diff=final_level,
                                                 alpha_equiv=equiv_level, power=power)
            elif latest is not None:
                reason = latest.reason
            verdicts.append(SequentialVerdict(verdict="undecided", decided_at_look=None, needs_more_seeds=False,
                                              seeds_needed=needed, reason=reason or "the seed budget is spent", **common))
    done = not any(v.needs_more_seeds for v in verdicts)
    return SequentialDecision(
        plan=plan, look=last, seeds=plan.seeds_at_looks[last], done=done,
        next_seeds=None if done else plan.seeds_at_looks[last + 1], verdicts=tuple(verdicts),
    )
