"""Aggregation over seeds: one group per (suite, loss setting) with, per metric, the mean, the
sample standard deviation (ddof=1) and the number of seeds that have a value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modbench.results.rows import ResultRow
from modbench.results.stats import Summary, summarize

Cell = Summary  # mean, std (ddof=1, NaN for one seed), n, min, max


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

    @property
    def done(self) -> list[ResultRow]:
        return [r for r in self.rows if r.status == "done"]

    @property
    def seeds(self) -> list[int]:
        """Seeds of the finished runs."""
        return [r.seed for r in self.done]

    @property
    def n_done(self) -> int:
        return len(self.done)

    @property
    def n_total(self) -> int:
        return len(self.rows)

    @property
    def config(self) -> dict[str, Any]:
        """The resolved configuration of the group's first run (the same for every seed but the
        seed itself)."""
        return self.rows[0].config if self.rows else {}

    @property
    def swept(self) -> dict[str, Any]:
        return self.rows[0].swept if self.rows else {}

    def values(self, metric: str) -> list[float | None]:
        """One value per finished run (None where the run has no value for ``metric``)."""
        return [r.metrics.get(metric) for r in self.done]

    def cell(self, metric: str) -> Cell | None:
        return summarize(self.values(metric))

    def metric_names(self) -> list[str]:
        names: list[str] = []
        for r in self.done:
            names += [m for m in r.metrics if m not in names]
        return names


def group_rows(rows: list[ResultRow]) -> list[Group]:
    """Groups in first-seen order (the suite's loss order)."""
    groups: dict[tuple[str, str], Group] = {}
    for row in rows:
        key = (row.suite, row.label)
        if key not in groups:
            groups[key] = Group(row.suite, row.dataset, row.backbone, row.loss, row.label)
        groups[key].rows.append(row)
    return list(groups.values())


def groups_by_suite(rows: list[ResultRow]) -> dict[str, list[Group]]:
    """Suite name -> its groups, suites in first-seen order."""
    out: dict[str, list[Group]] = {}
    for group in group_rows(rows):
        out.setdefault(group.suite, []).append(group)
    return out


def aggregate_record(group: Group, metrics: list[str] | None = None) -> dict[str, Any]:
    """The JSON object of a group: the run objects' fields with ``"seed": null`` and ``"run":
    null``, each metric's mean at the top level (as a run object holds its value), and the spread
    under ``"aggregate"``. NaN becomes None (JSON null)."""
    metrics = metrics if metrics is not None else group.metric_names()
    cells = {m: group.cell(m) for m in metrics}
    cells = {m: c for m, c in cells.items() if c is not None}
    out: dict[str, Any] = {
        "suite": group.suite,
        "dataset": group.dataset,
        "backbone": group.backbone,
        "loss": group.loss,
        "label": group.label,
        "seed": None,
        "status": group.status,
        "run": None,
    }
    out.update({m: _json_number(c.mean) for m, c in cells.items()})
    out["aggregate"] = {
        "n": group.n_done,
        "listed": group.n_total,
        "seeds": group.seeds,
        "runs": [r.key for r in group.done],
        "mean": "arithmetic mean over seeds (the top-level metric values)",
        "std_ddof": 1,
        "std": {m: _json_number(c.std) for m, c in cells.items()},
        "count": {m: c.n for m, c in cells.items()},
        "min": {m: c.min for m, c in cells.items()},
        "max": {m: c.max for m, c in cells.items()},
    }
    return out


def _json_number(value: float) -> float | None:
    return None if value != value else value
