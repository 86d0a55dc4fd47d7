"""Everything a renderer needs about one suite, computed once: the groups (mean, std and n per
loss setting), the baseline comparisons and the protocol. Renderers only format this."""

from __future__ import annotations

from dataclasses import dataclass, field

from modbench.results.aggregate import Group, aggregate_record, groups_by_suite
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
    metrics: list[str] | None = None,
    alpha: float = ALPHA,
) -> list[SuiteSummary]:
    """One summary per suite (first-seen order). ``baselines`` maps a suite to its baseline label;
    comparisons cover ``metrics`` (default: the metrics of Tables 1 and 2)."""
    descriptions = descriptions or {}
    baselines = baselines or {}
    metrics = list(metrics or TABLE_METRICS)
    out = []
    for suite, groups in groups_by_suite(rows).items():
        baseline = baselines.get(suite)
        comparisons = compare_to_baseline(groups, baseline, metrics, alpha) if baseline else []
        out.append(
            SuiteSummary(
                suite=suite,
                groups=groups,
                protocol=suite_protocol(suite, groups, descriptions.get(suite, "")),
                description=descriptions.get(suite, ""),
                baseline=baseline,
                baseline_rows=comparisons,
            )
        )
    return out
