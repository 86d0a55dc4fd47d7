"""Everything a renderer needs about one suite, computed once: the groups (mean, std and n per
loss setting), the verdicts against the baseline (``results.verdicts_table``, from the cached
per-query records), the protocol and how the rows differ from the suite as written. Renderers
only format this.

A suite's runs with other overridden settings (``--epochs 2`` beside the suite's 30) form a
section of their own, titled with the overrides, so a table never mixes a quick run with a full
one."""

from __future__ import annotations

from dataclasses import dataclass, field

from modbench.errors import UserError
from modbench.results.aggregate import Group, aggregate_record, group_rows
from modbench.results.baseline import find_baseline
from modbench.results.deviations import ROW_ONLY, Deviation, signature, union
from modbench.results.protocol import Protocol, suite_protocol
from modbench.results.rows import TABLE1_METRICS, TABLE2_METRICS, ResultRow
from modbench.results.verdicts_table import (
    RecordsLoader,
    SuiteVerdicts,
    VerdictSettings,
    build_verdicts,
    secondary_record,
    verdict_record,
)

TABLE_METRICS = TABLE1_METRICS + TABLE2_METRICS


@dataclass
class SuiteSummary:
    suite: str
    groups: list[Group]
    protocol: Protocol
    description: str = ""
    baseline: str | None = None  # label of the baseline loss setting
    verdicts: SuiteVerdicts | None = None  # None: no baseline, or no records loader
    deviations: list[Deviation] = field(default_factory=list)  # of any row, vs the suite as written

    @property
    def title(self) -> str:
        """The suite name, with the overrides of this section (``digits (epochs 2, subset 5)``)."""
        overrides = [d.short for d in self.deviations if d.key not in ROW_ONLY]
        return f"{self.suite} ({', '.join(overrides)})" if overrides else self.suite

    @property
    def several_seeds(self) -> bool:
        return any(g.n_total > 1 for g in self.groups)

    def records(self) -> list[dict]:
        """The aggregate JSON objects of this suite (``"seed": null``), with ``"is_baseline"`` in
        ``"aggregate"`` when there is a baseline, and on every other loss setting its verdict
        (``"verdict"``: the primary contrast, ``verdicts_table.verdict_record`` with the family's
        fields) and its secondary contrasts (``"secondary"``, unadjusted, no verdict word).

        Only where they add something: when the suite lists several seeds or the baseline was
        named (the suite's verdict.baseline or --baseline). A one-seed suite's JSON stays the
        plain list of runs."""
        named = self.verdicts is not None and "first loss" not in self.verdicts.baseline_source
        if not (self.several_seeds or named):
            return []
        out = []
        family = self.verdicts.family_record() if self.verdicts is not None else {}
        for group in self.groups:
            record = aggregate_record(group)
            if self.baseline is not None:
                record["aggregate"]["is_baseline"] = group.label == self.baseline
            if self.verdicts is not None and group.label != self.baseline:
                v = self.verdicts.verdict_of(group.label)
                if v is not None:
                    record["verdict"] = {**family, **verdict_record(v)}
                    if self.verdicts.decided_at is not None:
                        record["verdict"]["decided_at_seeds"] = self.verdicts.decided_at.get(group.label)
                    if group.label in self.verdicts.missing:
                        record["verdict"]["verdict"] = None
                        record["verdict"]["reason"] = self.verdicts.missing[group.label]
                record["secondary"] = [secondary_record(c) for c in self.verdicts.secondary.get(group.label, [])]
            out.append(record)
        return out


def summarize_rows(
    rows: list[ResultRow],
    *,
    descriptions: dict[str, str] | None = None,
    baselines: dict[str, str] | None = None,
    baseline_name: str | None = None,
    warn=None,
    metrics: list[str] | None = None,
    settings: dict[str, VerdictSettings] | None = None,
    records: RecordsLoader | None = None,
) -> list[SuiteSummary]:
    """One summary per suite and set of overrides (first-seen order).

    The baseline of a section is, in this order: the suite's ``verdict.baseline`` (``settings``
    maps suite names to their ``VerdictSettings``), ``baselines`` (suite -> label, resolved by
    the caller), ``baseline_name`` (a loss name or label, as ``--baseline`` gives it, looked up
    in each section; a section without it is reported through ``warn``, a UserError when no
    section has it), else the section's first loss setting. With ``records`` (key -> per-query
    records) each section with two or more loss settings gets its verdict table: primary
    contrasts on the verdict metric, secondary ones on ``metrics`` (default: the metrics of
    Tables 1 and 2)."""
    descriptions = descriptions or {}
    baselines = baselines or {}
    settings = settings or {}
    errors: list = []
    resolved = 0
    metrics = list(metrics or TABLE_METRICS)
    out = []
    for suite, section in sections(rows):
        groups = group_rows(section)
        verdict = settings.get(suite, VerdictSettings())
        baseline, source = None, ""
        if verdict.baseline is not None:
            baseline, error = _section_baseline(groups, verdict.baseline, suite)
            source = "the suite's verdict.baseline"
            if error is not None:  # the suite names a loss this section does not have
                if warn is not None:
                    warn(f"verdict.baseline {verdict.baseline}: {error}")
                baseline = None
        if baseline is None and suite in baselines:
            baseline, source = baselines[suite], "--baseline"
        if baseline is None and baseline_name is not None:
            baseline, error = _section_baseline(groups, baseline_name, suite)
            source = "--baseline"
            if error is not None:
                errors.append((suite, error))
        if baseline is None and baseline_name is None and len(groups) > 1:
            baseline, source = groups[0].label, "the suite's first loss (no verdict.baseline or --baseline)"
        measured = [m for m in metrics if any(m in r.metrics for r in section)]
        verdicts = None
        if baseline is not None and records is not None and len(groups) > 1:
            verdicts = build_verdicts(groups, baseline, verdict, records, baseline_source=source, secondary_metrics=measured)
        summary = SuiteSummary(
            suite=suite,
            groups=groups,
            protocol=suite_protocol(suite, groups, descriptions.get(suite, "")),
            description=descriptions.get(suite, ""),
            baseline=baseline,
            verdicts=verdicts,
            deviations=union(d for r in section for d in r.deviations),
        )
        summary.protocol.suite = summary.title
        out.append(summary)
        resolved += baseline is not None
    if baseline_name is not None and errors:
        if not resolved:
            raise errors[0][1]
        if warn is not None:
            for suite, exc in errors:
                warn(f"{exc}; suite '{suite}' is reported without verdicts")
    return out


def _section_baseline(groups: list[Group], name: str, suite: str):
    """(label, None) of the baseline ``name`` among a section's rows, or (None, UserError)."""
    try:
        return find_baseline([(g.loss, g.label) for g in groups], name, suite=suite), None
    except UserError as exc:
        base = [g.label for g in groups if g.base_label == name]
        if len(base) == 1:  # the suite's label of a row that was told apart from another
            return base[0], None
        return None, exc


def sections(rows: list[ResultRow]) -> list[tuple[str, list[ResultRow]]]:
    """(suite, rows) per suite and set of overridden settings, in first-seen order."""
    out: dict[tuple[str, tuple], list[ResultRow]] = {}
    for row in rows:
        overrides = tuple(signature(d) for d in row.deviations if d.key not in ROW_ONLY)
        out.setdefault((row.suite, overrides), []).append(row)
    return [(suite, section) for (suite, _), section in out.items()]
