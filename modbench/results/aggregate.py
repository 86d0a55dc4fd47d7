"""Aggregation over seeds: one entry per (suite, loss setting) with mean, std and n per metric."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from modbench.results.rows import ResultRow


@dataclass
class Cell:
    mean: float
    std: float
    n: int


@dataclass
class Group:
    suite: str
    dataset: str
    backbone: str
    loss: str
    label: str
    rows: list[ResultRow] = field(default_factory=list)

    @property
    def status(self) -> str:
        statuses = {r.status for r in self.rows}
        if "done" in statuses:
            return "done"
        return "failed" if "failed" in statuses else "missing"

    def cell(self, metric: str) -> Cell | None:
        values = [r.metrics[metric] for r in self.rows if r.status == "done" and metric in r.metrics]
        values = [v for v in values if v is not None and not math.isnan(v)]
        if not values:
            return None
        n = len(values)
        mean = sum(values) / n
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
        return Cell(mean, std, n)


def group_rows(rows: list[ResultRow]) -> list[Group]:
    """Groups in first-seen order (the suite's loss order)."""
    groups: dict[tuple[str, str], Group] = {}
    for row in rows:
        key = (row.suite, row.label)
        if key not in groups:
            groups[key] = Group(row.suite, row.dataset, row.backbone, row.loss, row.label)
        groups[key].rows.append(row)
    return list(groups.values())
