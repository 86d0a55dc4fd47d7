"""The verdict table of one suite section, built from the cached per-query records.

Pure (no torch, no printing): ``build_verdicts`` takes the section's groups (one per loss setting),
the baseline's label, the suite's ``VerdictSettings`` and a loader ``records(key) -> dict`` of a
run's per-query records (``RunStore(root).run(key).queries()``, or synthetic records in tests).

- **Primary contrasts**: every other loss setting against the baseline on the verdict metric,
  paired by seed (only the seeds both have finished), ``verdict.contrast``; the family of them is
  decided by ``verdict.decide`` (Holm over the primary contrasts, equivalence within ±margin).
- **Secondary contrasts**: the same pairs on the other metrics of Tables 1 and 2, described by
  ``verdict.contrast`` alone: unadjusted intervals, no verdict word.

A loss setting whose runs lack per-query records (measured before modbench stored them, or
damaged) gets no contrast; ``missing`` says which, and ``modbench eval`` adds the records.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from modbench.errors import ModbenchError, UserError
from modbench.results.aggregate import Group
from modbench.results.query_metrics import CONTINGENCY_METRICS, MEAN_METRICS_FIXED
from modbench.results.verdict import ALPHA, MARGIN, Contrast, Verdict, contrast, decide

RecordsLoader = Callable[[str], dict]
SECONDARY_BOOT = 400  # bootstrap resamples for the secondary NMI/F1 intervals (descriptive only)


@dataclass(frozen=True)
class VerdictSettings:
    """A suite's ``verdict:`` section (``suite.schema.VerdictConfig``) as the results layer reads it."""

    metric: str = "map@r"
    margin: float = MARGIN
    alpha: float = ALPHA
    baseline: str | None = None

    @classmethod
    def of(cls, config: Any) -> "VerdictSettings":
        """From a ``VerdictConfig`` (or anything with the same attributes); None: the defaults."""
        if config is None:
            return cls()
        return cls(metric=config.metric, margin=config.margin, alpha=config.alpha, baseline=config.baseline)


@dataclass
class SuiteVerdicts:
    """The verdicts of one section: ``primary`` (one ``Verdict`` per other loss setting, in group
    order), ``secondary`` (label -> the descriptive contrasts on the other metrics), ``missing``
    (label -> why that setting has no contrast), ``baseline_source`` (where the baseline came
    from: the suite's verdict section, --baseline, or the suite's first loss)."""

    baseline: str
    settings: VerdictSettings
    baseline_source: str
    primary: list[Verdict] = field(default_factory=list)
    secondary: dict[str, list[Contrast]] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    decided_at: dict[str, int] | None = None  # label -> seeds, under compare --until-decided

    @property
    def family(self) -> int:
        return self.primary[0].family if self.primary else 0

    def verdict_of(self, label: str) -> Verdict | None:
        return next((v for v in self.primary if v.contrast.candidate == label), None)

    def family_record(self) -> dict[str, Any]:
        """The fields every primary verdict of this table shares (JSON)."""
        s = self.settings
        return {
            "baseline": self.baseline,
            "baseline_from": self.baseline_source,
            "family": f"Holm over the {self.family} testable primary contrasts (every loss against the baseline on {s.metric})",
            "family_size": self.family,
            **({} if self.decided_at is None else {"sequential": "compare --until-decided: O'Brien-Fleming alpha "
                                                   "spending over the planned looks, Holm over the primary contrasts"}),
        }


def store_records(store) -> RecordsLoader:
    """The loader of a ``cache.store.RunStore``'s per-query records (checked, torch-free)."""
    return lambda key: store.run(key).queries()


def verdict_record(v: Verdict) -> dict[str, Any]:
    c = v.contrast
    return {
        "loss": c.candidate,
        "metric": c.metric,
        "delta": c.delta,
        "ci": [v.ci_low, v.ci_high] if c.testable else None,
        "confidence": v.confidence,
        "interval": v.interval or c.reason,
        "p": v.p,
        "p_holm": v.p_holm,
        "p_equivalence": v.p_equivalence,
        "p_equivalence_holm": v.p_equivalence_holm,
        "verdict": v.verdict,
        "within_margin": v.within_margin,
        "seeds": c.n_seeds,
        "seeds_needed": v.seeds_needed,
        "more_seeds": v.more_seeds,
        "reason": v.reason or c.reason or None,
        "noise": c.noise,
        "margin": v.margin,
        "alpha": v.alpha,
        "rho": c.rho,
        "effect_size": c.effect_size,
        "se": c.se,
        "df": c.df,
        "seed_var": c.seed_var,
        "test_var": c.test_var,
        "queries": c.n_queries,
        "method": c.method,
        "candidate_mean": c.candidate_mean,
        "baseline_mean": c.baseline_mean,
    }


def secondary_record(c: Contrast) -> dict[str, Any]:
    return {
        "loss": c.candidate,
        "metric": c.metric,
        "delta": c.delta,
        "ci": [c.ci_low, c.ci_high] if c.testable else None,
        "interval": c.interval or c.reason,
        "p": c.p,
        "seeds": c.n_seeds,
        "noise": c.noise,
        "alpha": c.alpha,
        "rho": c.rho,
        "method": c.method,
    }


def has_records_for(metric: str) -> bool:
    """Whether ``metric`` can be recomputed from per-query records."""
    return metric.startswith("recall@") or metric in MEAN_METRICS_FIXED or metric in CONTINGENCY_METRICS


def _not_testable(metric: str, candidate: str, baseline: str, n_seeds: int, reason: str) -> Contrast:
    return Contrast(metric=metric, candidate=candidate, baseline=baseline, method="", n_seeds=n_seeds, n_queries=0,
                    delta=math.nan, candidate_mean=math.nan, baseline_mean=math.nan, per_seed_delta=(),
                    testable=False, reason=reason)


def paired_seeds(candidate: Group, baseline: Group) -> list[int]:
    """The seeds both settings have finished, ascending (the blocks of the paired design)."""
    return sorted(set(candidate.seeds) & set(baseline.seeds))


def build_verdicts(
    groups: Sequence[Group],
    baseline: str,
    settings: VerdictSettings,
    records: RecordsLoader,
    *,
    baseline_source: str = "",
    secondary_metrics: Sequence[str] = (),
) -> SuiteVerdicts:
    """The primary verdicts and secondary contrasts of every group against ``baseline`` (a label
    among ``groups``). Where the baseline is a run of the suite's plan on this code, a row of
    cached runs found beside the plan (older code, an override: another configuration) is no
    contrast of the family: paired with the plan's baseline it would mix configurations, and it
    would widen every Holm interval. ``records(key)`` raises (a ``ModbenchError`` or ``OSError``) for a run without
    usable per-query records; that setting is then listed in ``missing``."""
    base = next((g for g in groups if g.label == baseline), None)
    if base is None:
        raise UserError(f"no loss labelled '{baseline}' among the results")
    loaded: dict[str, dict | Exception] = {}

    def runs_of(group: Group, seeds: list[int]) -> list[dict]:
        by_seed = {r.seed: r for r in group.done}
        out = []
        for seed in seeds:
            key = by_seed[seed].key
            if key not in loaded:
                try:
                    loaded[key] = records(key)
                except (ModbenchError, OSError, ValueError, KeyError) as exc:
                    loaded[key] = exc
            got = loaded[key]
            if isinstance(got, Exception):
                hint = "" if "modbench eval" in str(got) else "; `modbench eval` on the suite adds them"
                raise _Missing(f"seed {seed} has no usable per-query records: {got}{hint}")
            out.append(got)
        return out

    table = SuiteVerdicts(baseline=baseline, settings=settings, baseline_source=baseline_source)
    primaries: list[Contrast] = []
    secondary_metrics = [m for m in secondary_metrics if m != settings.metric and has_records_for(m)]
    for group in groups:
        if group is base or (base.planned and not group.planned):
            continue
        seeds = paired_seeds(group, base)
        if not seeds:
            table.missing[group.label] = f"no seed finished for both it and {baseline}"
            primaries.append(_not_testable(settings.metric, group.label, baseline, 0, table.missing[group.label]))
            continue
        try:
            cand, ref = runs_of(group, seeds), runs_of(base, seeds)
        except _Missing as exc:
            table.missing[group.label] = str(exc)
            primaries.append(_not_testable(settings.metric, group.label, baseline, len(seeds), str(exc)))
            continue
        kw = dict(alpha=settings.alpha, candidate=group.label, baseline=baseline)
        primaries.append(_safe_contrast(cand, ref, settings.metric, kw))
        table.secondary[group.label] = [_safe_contrast(cand, ref, m, dict(kw, n_boot=SECONDARY_BOOT)) for m in secondary_metrics]
    if primaries:
        table.primary = decide(primaries, margin=settings.margin, alpha=settings.alpha)
    return table


class _Missing(Exception):
    pass


def _safe_contrast(cand: list[dict], ref: list[dict], metric: str, kw: dict) -> Contrast:
    """``contrast``, or a not-testable one saying why (records of other test queries, a metric
    the records cannot give or that is undefined on them)."""
    try:
        return contrast(cand, ref, metric, **kw)
    except (UserError, ValueError) as exc:
        return _not_testable(metric, kw["candidate"], kw["baseline"], len(cand), str(exc))


def look_contrasts(
    groups: Sequence[Group], baseline: str, labels: Sequence[str], seeds: Sequence[int], settings: VerdictSettings,
    records: RecordsLoader,
) -> list[Contrast]:
    """One look of ``compare --until-decided``: the primary contrast of each of ``labels`` against
    ``baseline`` on exactly ``seeds`` (every one of them finished by both; else a not-testable
    contrast saying which is missing)."""
    by_label = {g.label: g for g in groups}
    base = by_label[baseline]
    out = []
    for label in labels:
        group = by_label.get(label)
        have = set(group.seeds) if group is not None else set()
        lacking = [s for s in seeds if s not in have or s not in set(base.seeds)]
        if group is None or lacking:
            out.append(_not_testable(settings.metric, label, baseline, len(seeds),
                                     f"seeds {lacking} did not finish for both it and {baseline}"))
            continue
        try:
            cand = [records(next(r.key for r in group.done if r.seed == s)) for s in seeds]
            ref = [records(next(r.key for r in base.done if r.seed == s)) for s in seeds]
        except (ModbenchError, OSError, ValueError, KeyError) as exc:
            out.append(_not_testable(settings.metric, label, baseline, len(seeds), f"no usable per-query records ({exc})"))
            continue
        out.append(_safe_contrast(cand, ref, settings.metric, dict(alpha=settings.alpha, candidate=label, baseline=baseline)))
    return out


def sequential_verdicts(table: SuiteVerdicts, decision, labels: Sequence[str]) -> tuple[SuiteVerdicts, dict[str, int]]:
    """``table`` with its primary verdicts replaced by those of the sequential rule
    (``results.sequential.SequentialDecision``; ``labels[i]`` is its contrast i), and
    label -> the seeds at which each decided contrast was decided.

    The interval shown is the contrast's t interval at 1 - the p-value threshold of its latest look
    at the Holm share of alpha the rule left it (``SequentialVerdict.threshold``): it excludes 0
    when the rule decided "better"/"worse" there."""
    primary, decided_at = [], {}
    by_label = {label: sv for label, sv in zip(labels, decision.verdicts)}
    for old in table.primary:
        sv = by_label.get(old.contrast.candidate)
        if sv is None:
            primary.append(old)
            continue
        c = sv.contrast if sv.contrast is not None else old.contrast
        low, high = c.interval_at(1 - sv.threshold) if c.testable and sv.threshold == sv.threshold else (math.nan, math.nan)
        needed = sv.seeds_needed if sv.verdict == "undecided" else None
        primary.append(dataclasses.replace(
            old, contrast=c, verdict=sv.verdict, ci_low=low, ci_high=high, confidence=1 - sv.threshold,
            p=c.p, p_holm=math.nan, seeds_needed=needed,
            more_seeds=None if needed is None else max(1, needed - c.n_seeds), reason=sv.reason,
            within_margin=sv.verdict == "equivalent",
            interval=(f"{100 * (1 - sv.threshold):.4g}% t interval at the sequential rule's level (alpha spending over "
                      f"{decision.plan.looks} planned looks, Holm over the primary contrasts); covers {c.noise}"),
        ))
        if sv.verdict != "undecided":
            decided_at[c.candidate] = sv.seeds
    return dataclasses.replace(table, primary=primary, decided_at=decided_at), decided_at
