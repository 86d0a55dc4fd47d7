"""The two table layouts of the paper, as plain header + rows of strings.

Table 1: Loss function, NMI, F1. Table 2: Dataset, Model, Loss function, Recall@1/2/4/8.
Best value of each metric column (per suite) is flagged so renderers can highlight it.
"""

from __future__ import annotations

from dataclasses import dataclass

from modbench.render.cells import best_groups, format_cell
from modbench.render.names import backbone_name, dataset_name, metric_title
from modbench.results.aggregate import Group
from modbench.results.rows import TABLE1_METRICS, TABLE2_METRICS


@dataclass
class TableText:
    title: str
    header: list[str]
    rows: list[list[str]]
    best: list[list[bool]]  # same shape as rows
    notes: list[str]
    n_lead: int = 1  # leading text columns; the rest are metric columns


def _table(groups: list[Group], title: str, lead: list[str], lead_cells, metrics) -> TableText:
    header = lead + [metric_title(m) for m in metrics]
    bests = [best_groups(groups, m) for m in metrics]
    rows, best = [], []
    for i, group in enumerate(groups):
        rows.append(lead_cells(group) + [format_cell(group, m) for m in metrics])
        best.append([False] * len(lead) + [i in b for b in bests])
    return TableText(title, header, rows, best, [], len(lead))


def table1(groups: list[Group], suite: str) -> TableText:
    return _table(groups, f"Table 1 layout — {suite}", ["Loss function"], lambda g: [g.label], TABLE1_METRICS)


def table2(groups: list[Group], suite: str) -> TableText:
    return _table(
        groups,
        f"Table 2 layout — {suite}",
        ["Dataset", "Model", "Loss function"],
        lambda g: [dataset_name(g.dataset), backbone_name(g.backbone), g.label],
        TABLE2_METRICS,
    )


def extra_table(groups: list[Group], suite: str, metrics: list[str]) -> TableText:
    return _table(groups, f"More metrics — {suite}", ["Loss function"], lambda g: [g.label], metrics)


def suite_tables(groups: list[Group], suite: str, extra_metrics: list[str] | None = None) -> list[TableText]:
    tables = [table1(groups, suite), table2(groups, suite)]
    if extra_metrics:
        tables.append(extra_table(groups, suite, extra_metrics))
    return tables
