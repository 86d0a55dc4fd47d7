"""Everything a renderer needs about one suite, computed once: the groups (mean, std and n per
loss setting), the baseline comparisons, the protocol and how the rows differ from the suite as
written. Renderers only format this.

A suite's runs with other overridden settings (``--epochs 2`` beside the suite's 30) form a
section of their own, titled with the overrides, so a table never mixes a quick run with a full
one."""

from __future__ import annotations

from dataclasses import dataclass, field

from modbench.results.aggregate import Group, aggregate_record, group_rows
from modbench.results.deviations import ROW_ONLY, Deviation, signature, union
from modbench.results.baseline import BaselineRow, baseline_records, compare_to_baseline
from modbench.results.protocol import Protocol, suite_protocol
from modbench.results.rows import TABLE1_METRICS, TABLE2_METRICS, ResultRow
from modbench.results.stats import ALPHA

TABLE_METRICS = TABLE1_METRICS + TABLE2_METRICS


@dataclass
class SuiteSummary:
    suite: str
    groups: list[Group]
    protocol: Protocol
    description: str = ""
    baseline: str | None = None  # label of the baseline loss setting
    baseline_rows: list[BaselineRow] = field(default_factory=list)
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
        """The aggregate JSON objects of this suite (``"seed": null``), with the comparison to
        the baseline under ``"versus_baseline"`` and ``"is_baseline"`` in ``"aggregate"``.

        Only where they add something: when the suite lists several seeds or has a baseline. A
        one-seed suite's JSON stays the plain list of runs."""
        if not (self.several_seeds or self.baseline):
            return []
        versus = baseline_records(self.baseline_rows, self.baseline) if self.baseline else {}
        out = []
        for group in self.groups:
            record = aggregate_record(group)
            if self.baseline is not None:
                record["aggregate"]["is_baseline"] = group.label == self.baseline
                if group.label in versus:
                    record["versus_baseline"] = versus[group.label]
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
    alpha: float = ALPHA,
) -> list[SuiteSummary]:
    """One summary per suite and set of overrides (first-seen order). ``baselines`` maps a suite
    to its baseline label; ``baseline_name`` (a loss name or label, as ``--baseline`` gives it) is
    looked up in each section instead, a section without it reported through ``warn`` (a
    UserError when no section has it);
    comparisons cover ``metrics`` (default: the metrics of Tables 1 and 2)."""
    descriptions = descriptions or {}
    baselines = baselines or {}
    errors: list = []
    resolved = 0
    metrics = list(metrics or TABLE_METRICS)
    out = []
    for suite, section in sections(rows):
        groups = group_rows(section)
        baseline = baselines.get(suite)
        if baseline_name is not None:
            baseline, error = _section_baseline(groups, baseline_name, suite)
            if error is not None:
                errors.append((suite, error))
        measured = [m for m in metrics if any(m in r.metrics for r in section)]
        comparisons = compare_to_baseline(groups, baseline, measured, alpha) if baseline else []
        summary = SuiteSummary(
            suite=suite,
            groups=groups,
            protocol=suite_protocol(suite, groups, descriptions.get(suite, "")),
            description=descriptions.get(suite, ""),
            baseline=baseline,
            baseline_rows=comparisons,
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
                warn(f"{exc}; suite '{suite}' is reported without a baseline comparison")
    return out


def _section_baseline(groups: list[Group], name: str, suite: str):
    """(label, None) of the baseline ``name`` among a section's rows, or (None, UserError)."""
    from modbench.errors import UserError
    from modbench.results.baseline import find_baseline

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
