"""The two table layouts of the paper, as plain header + rows of strings.

Table 1: Loss function, Seeds, NMI, F1. Table 2: Dataset, Model, Loss function, Seeds,
Recall@1/2/4/8. Best mean of each metric column (per suite) is flagged so renderers can
highlight it. With the paper's numbers, each measured row whose dataset, backbone and loss the
paper has is followed by the paper's row, marked "(paper)" and never flagged as best.
The baseline table lists, per loss and metric, the difference to the baseline and its test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modbench.render.cells import (
    MISSING, ONE_SEED_NOTE, SPREAD_NOTE, best_groups, format_cell, format_ci, format_diff,
    format_p, format_paper_value, format_seeds, format_verdict,
)
from modbench.render.names import backbone_name, dataset_name, metric_title
from modbench.results.aggregate import Group
from modbench.results.baseline import BaselineRow
from modbench.results.rows import TABLE1_METRICS, TABLE2_METRICS
from modbench.results.stats import TEST_NAME

MEASURED, PAPER = "measured", "paper"


@dataclass
class TableText:
    title: str
    header: list[str]
    rows: list[list[str]]
    best: list[list[bool]]  # same shape as rows
    notes: list[str]
    n_lead: int = 1  # leading text columns; the rest are metric columns
    kinds: list[str] = field(default_factory=list)  # per row: "measured" or "paper"
    align: list[str] = field(default_factory=list)  # per column: "left" or "right"

    def __post_init__(self):
        if not self.kinds:
            self.kinds = [MEASURED] * len(self.rows)
        if not self.align:
            self.align = ["left"] * self.n_lead + ["right"] * (len(self.header) - self.n_lead)


def _table(groups: list[Group], title: str, lead: list[str], lead_cells, metrics, *, paper=None, table_no=None) -> TableText:
    header = lead + ["Seeds"] + [metric_title(m) for m in metrics]
    n_lead = len(lead) + 1
    bests = [best_groups(groups, m) for m in metrics]
    rows, best, kinds, notes = [], [], [], []
    differences: list[str] = []
    for i, group in enumerate(groups):
        rows.append(lead_cells(group, group.label) + [format_seeds(group)] + [format_cell(group, m) for m in metrics])
        best.append([False] * n_lead + [i in b for b in bests])
        kinds.append(MEASURED)
        prow = paper.row_for_config(table_no, group.config) if paper is not None else None
        if prow is not None:
            label = f"{prow.printed_loss} (paper)"
            rows.append(lead_cells(group, label) + [MISSING] + [
                format_paper_value(prow.values[m]) if m in prow.values else MISSING for m in metrics
            ])
            best.append([False] * len(rows[-1]))
            kinds.append(PAPER)
            differences += [d for d in paper.differences(group.config) if d not in differences]
    if any(g.n_done > 1 for g in groups):
        notes.append(SPREAD_NOTE)
    elif any(g.n_done == 1 for g in groups):
        notes.append(ONE_SEED_NOTE)
    if PAPER in kinds:
        notes.append(
            f"Rows marked (paper) are the numbers printed in {paper.cite}, Table {table_no} "
            "(one run each), not measured here."
        )
        if differences:
            notes.append("The measured runs differ from the paper's protocol: " + "; ".join(differences) + ".")
    return TableText(title, header, rows, best, notes, n_lead, kinds)


def table1(groups: list[Group], suite: str, paper=None) -> TableText:
    return _table(
        groups, f"Table 1 layout — {suite}", ["Loss function"], lambda g, label: [label],
        TABLE1_METRICS, paper=paper, table_no=1,
    )


def table2(groups: list[Group], suite: str, paper=None) -> TableText:
    return _table(
        groups,
        f"Table 2 layout — {suite}",
        ["Dataset", "Model", "Loss function"],
        lambda g, label: [dataset_name(g.dataset), backbone_name(g.backbone), label],
        TABLE2_METRICS,
        paper=paper,
        table_no=2,
    )


def extra_table(groups: list[Group], suite: str, metrics: list[str]) -> TableText:
    return _table(groups, f"More metrics — {suite}", ["Loss function"], lambda g, label: [label], metrics)


def baseline_table(rows: list[BaselineRow], suite: str, baseline: str) -> TableText:
    """Per loss and metric: Δ to the baseline, its confidence interval, p and the verdict."""
    alpha = rows[0].comparison.alpha if rows else 0.05
    level = f"{100 * (1 - alpha):g}%"
    header = ["Loss function", "Metric", f"Δ vs {baseline}", f"{level} CI of Δ", "p (Welch)", "Exceeds seed noise?"]
    out_rows, best = [], []
    for r in rows:
        c = r.comparison
        out_rows.append([r.label, metric_title(r.metric), format_diff(c), format_ci(c), format_p(c), format_verdict(c)])
        best.append([False] * 5 + [bool(c.significant)])
    tested = sum(r.comparison.testable for r in rows)
    notes = [
        f"Δ = mean(loss) − mean({baseline}) over seeds. {TEST_NAME}, scipy.stats.ttest_ind(equal_var=False), "
        f"at α = {alpha:g}: 'yes' when p < {alpha:g}, i.e. the difference exceeds the seed-to-seed noise; "
        f"the interval is the {level} Welch confidence interval of Δ. With fewer than 2 seeds on either side "
        "the test is not run ('not testable')."
    ]
    if tested > 1:
        notes.append(
            f"No correction for multiple comparisons: {tested} tests here, so about {alpha * tested:.1f} "
            f"'yes' are expected by chance alone when no loss differs from {baseline}."
        )
    align = ["left", "left", "right", "right", "right", "left"]
    return TableText(f"Difference to the baseline — {suite}", header, out_rows, best, notes, 2, align=align)


def suite_tables(
    groups: list[Group], suite: str, extra_metrics: list[str] | None = None, *, paper=None,
    baseline_rows: list[BaselineRow] | None = None, baseline: str | None = None,
    notes: list[str] | None = None,
) -> list[TableText]:
    """``notes``: lines every table of the suite carries first (e.g. "tuned: N trials per loss
    on validation" for a suite written by ``modbench tune``)."""
    tables = [table1(groups, suite, paper), table2(groups, suite, paper)]
    if extra_metrics:
        tables.append(extra_table(groups, suite, extra_metrics))
    if baseline is not None and baseline_rows is not None:
        tables.append(baseline_table(baseline_rows, suite, baseline))
    for table in tables:
        table.notes[:0] = list(notes or [])
    return tables


def paper_tables(paper) -> list[TableText]:
    """The paper's Tables 1 and 2 as printed (every row marked as the paper's), with how each
    was read as a note."""
    tables = []
    for number, table in sorted(paper.tables.items()):
        header = ["Dataset", "Model", "Loss function"] + [metric_title(m) for m in table.metrics]
        rows = [
            [dataset_name(r.dataset), backbone_name(r.backbone), r.printed_loss]
            + [format_paper_value(r.values[m]) if m in r.values else MISSING for m in table.metrics]
            for r in table.rows
        ]
        tables.append(
            TableText(
                title=f"The paper's {table.caption}",
                header=header,
                rows=rows,
                best=[[False] * len(header) for _ in rows],
                notes=[table.interpretation, f"Source: {paper.cite}."],
                n_lead=3,
                kinds=[PAPER] * len(rows),
            )
        )
    return tables
