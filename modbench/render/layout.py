"""The two table layouts of the paper, as plain header + rows of strings.

Table 1: Loss function, Seeds, NMI, F1 (pairs), macro-F1 (both F1s, each header saying which).
Table 2: Dataset, Model, Loss function, Seeds, R@1/2/4/8 (Dataset and Model in the title when
constant, so that it fits 80 columns). A third table, Retrieval: MAP@R and P@1 (not in the paper). A "Run on" column appears where rows differ in run
identity (device, threads, ...); every table notes how its rows differ from the suite as
written (overrides, fixture data). Best mean of each metric column (per suite) is flagged so renderers can
highlight it. With the paper's numbers, each measured row whose dataset, backbone and loss the
paper has is followed by the paper's row, marked "(paper)" and never flagged as best.
The baseline table lists, per loss and metric, the difference to the baseline and its test. The
classifier-accuracy table shows the softmax-family losses' top-1 accuracy ("n/a" for the others).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modbench.render.cells import (
    MISSING, ONE_SEED_NOTE, SPREAD_NOTE, best_groups, format_cell, format_ci, format_diff,
    format_p, format_p_value, format_paper_value, format_seeds, format_verdict,
)
from modbench.render.names import backbone_name, dataset_name, metric_short, metric_title
from modbench.results.aggregate import Group
from modbench.results.baseline import BaselineRow
from modbench.results.deviations import note as deviation_note
from modbench.results.rows import (
    ACCURACY, ACCURACY_LABEL, NOT_APPLICABLE, TABLE1_METRICS, TABLE2_METRICS, TABLE3_METRICS,
)
from modbench.results.stats import HOLM_NAME, TEST_NAME

MEASURED, PAPER = "measured", "paper"
PAPER_F1_NOTE = (
    "The paper's F1 (its section 3.3: macro-F1 of classification) is shown in the macro-F1 column, "
    "beside modbench's macro-F1 (of leave-one-out 1-nearest-neighbour labels); F1 (pairs) is the pairwise "
    "clustering F1 of the metric-learning literature, which the paper does not report."
)


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
    # columns whose cells are never wrapped in a terminal (a confidence interval stays on one line)
    unbroken: tuple[int, ...] = ()
    # the same table laid out for a narrow terminal, used where this one is wider than the terminal
    narrow: "TableText | None" = None

    def __post_init__(self):
        if not self.kinds:
            self.kinds = [MEASURED] * len(self.rows)
        if not self.align:
            self.align = ["left"] * self.n_lead + ["right"] * (len(self.header) - self.n_lead)


def identity_keys(groups: list[Group]) -> list[str]:
    """The identity fields (device, precision, threads, ...) in which finished groups differ."""
    idents = [g.identity for g in groups if g.identity]
    keys = list(dict.fromkeys(k for i in idents for k in i))
    return [k for k in keys if len({repr(i.get(k)) for i in idents}) > 1]


def identity_text(identity: dict, keys: list[str] | None = None) -> str:
    """``device cpu, cpu_threads 1`` (only ``keys`` when given)."""
    keys = list(identity) if keys is None else keys
    parts = []
    for k in keys:
        v = identity.get(k)
        v = "—" if v is None else str(v)
        parts.append(f"{k} {v[:12] if k.endswith('digest') else v}")
    return ", ".join(parts) or MISSING


def identity_note(groups: list[Group]) -> str | None:
    """The identity shared by every row (device, threads, ...), or a pointer to the column."""
    if identity_keys(groups):
        return "Rows differ in how they were run (see the Run on column); runs of different identity are never averaged."
    ident = next((g.identity for g in groups if g.identity), None)
    return f"Measured with {identity_text(ident)}." if ident else None


def _table(groups: list[Group], title: str, lead: list[str], lead_cells, metrics, *, paper=None, table_no=None,
           deviations=None, short=False) -> TableText:
    ident = identity_keys(groups)
    lead = lead + (["Run on"] if ident else [])
    header = lead + ["Seeds"] + [(metric_short if short else metric_title)(m) for m in metrics]
    n_lead = len(lead) + 1
    bests = [best_groups(groups, m) for m in metrics]
    rows, best, kinds, notes = [], [], [], []
    if (text := deviation_note(deviations or [])) is not None:
        notes.append(text)
    differences: list[str] = []

    def leading(group, label):
        return lead_cells(group, label) + ([identity_text(group.identity, ident)] if ident else [])

    for i, group in enumerate(groups):
        rows.append(leading(group, group.label) + [format_seeds(group)] + [format_cell(group, m) for m in metrics])
        best.append([False] * n_lead + [i in b for b in bests])
        kinds.append(MEASURED)
        prow = paper.row_for_config(table_no, group.config) if paper is not None else None
        if prow is not None:
            label = f"{prow.printed_loss} (paper)"
            rows.append(leading(group, label) + [MISSING] + [
                format_paper_value(prow.values[m]) if m in prow.values else MISSING for m in metrics
            ])
            best.append([False] * len(rows[-1]))
            kinds.append(PAPER)
            differences += [d for d in paper.differences(group.config) if d not in differences]
    if any(g.n_done > 1 for g in groups):
        notes.append(SPREAD_NOTE)
    elif any(g.n_done == 1 for g in groups):
        notes.append(ONE_SEED_NOTE)
    if (text := identity_note(groups)) is not None:
        notes.append(text)
    if short and any(m.startswith("recall@") for m in metrics):
        notes.append("R@k: Recall@k, the share of test queries with a same-label sample among their k nearest neighbours.")
    if PAPER in kinds:
        notes.append(
            f"Rows marked (paper) are the numbers printed in {paper.cite}, Table {table_no} "
            "(one run each), not measured here."
        )
        if "macro_f1" in metrics:
            notes.append(PAPER_F1_NOTE)
        if differences:
            notes.append("The measured runs differ from the paper's protocol: " + "; ".join(differences) + ".")
    return TableText(title, header, rows, best, notes, n_lead, kinds)


def table1(groups: list[Group], suite: str, paper=None, deviations=None) -> TableText:
    return _table(
        groups, f"Table 1 layout — {suite}", ["Loss function"], lambda g, label: [label],
        TABLE1_METRICS, paper=paper, table_no=1, deviations=deviations,
    )


def table2(groups: list[Group], suite: str, paper=None, deviations=None) -> TableText:
    """Dataset and Model move into the title when every row has the same (so the table fits an
    80-column terminal); the Recall@k headers are ``R@k``."""
    datasets = {g.dataset for g in groups}
    backbones = {g.backbone for g in groups}
    if len(datasets) == 1 and len(backbones) == 1:
        where = f"{dataset_name(groups[0].dataset)}, {backbone_name(groups[0].backbone)}"
        return _table(
            groups, f"Table 2 layout — {suite} — {where}", ["Loss function"], lambda g, label: [label],
            TABLE2_METRICS, paper=paper, table_no=2, deviations=deviations, short=True,
        )
    return _table(
        groups,
        f"Table 2 layout — {suite}",
        ["Dataset", "Model", "Loss function"],
        lambda g, label: [dataset_name(g.dataset), backbone_name(g.backbone), label],
        TABLE2_METRICS,
        paper=paper,
        table_no=2,
        deviations=deviations,
        short=True,
    )


RETRIEVAL_NOTE = (
    "MAP@R: mean average precision at R (Musgrave et al. 2020), R = the number of other test samples "
    "of the query's label; P@1: the share of test queries whose nearest neighbour has their label. "
    "Not in the paper."
)


def table3(groups: list[Group], suite: str, deviations=None) -> TableText | None:
    """MAP@R and P@1 (not in the paper), or None when no run has them (cached before they were
    computed)."""
    if not any(g.cell(m) is not None for g in groups for m in TABLE3_METRICS):
        return None
    table = _table(groups, f"Retrieval — {suite}", ["Loss function"], lambda g, label: [label], TABLE3_METRICS,
                   deviations=deviations)
    table.notes.append(RETRIEVAL_NOTE)
    return table


def extra_table(groups: list[Group], suite: str, metrics: list[str], deviations=None) -> TableText:
    return _table(groups, f"More metrics — {suite}", ["Loss function"], lambda g, label: [label], metrics, deviations=deviations)


def accuracy_table(groups: list[Group], suite: str, deviations=None) -> TableText | None:
    """The classifier's top-1 accuracy on the test split, for the softmax-family losses; an
    embedding-only loss's row says "n/a" (no classifier), never 0. None when no row has it."""
    if not any(g.cell(ACCURACY) is not None for g in groups):
        return None
    table = _table(groups, f"Classifier accuracy — {suite}", ["Loss function"], lambda g, label: [label],
                   (ACCURACY,), deviations=deviations)
    for i, group in enumerate(groups):
        if group.accuracy_applicable is False:
            table.rows[i][-1] = f"{NOT_APPLICABLE} (no classifier)"
    table.notes.insert(0, f"Top-1 accuracy ({ACCURACY_LABEL}): the share of evaluated images (the test split; "
                          "the validation split for tuning trials) whose largest classifier logit is their label.")
    return table


def baseline_table(rows: list[BaselineRow], suite: str, baseline: str, deviations=None) -> TableText:
    """Per loss and metric: Δ to the baseline, its confidence interval, Welch's p, the
    Holm-adjusted p and the verdict (on the Holm-adjusted p when the table holds several tests)."""
    alpha = rows[0].comparison.alpha if rows else 0.05
    level = f"{100 * (1 - alpha):g}%"
    tested = sum(r.comparison.testable for r in rows)
    several = tested > 1
    verdict = "Exceeds seed noise? (Holm)" if several else "Exceeds seed noise?"
    header = ["Loss function", "Metric", f"Δ vs {baseline}", f"{level} CI of Δ", "p (Welch)", "p (Holm)", verdict]
    out_rows, best = [], []
    for r in rows:
        c = r.comparison
        significant = r.significant_holm if several else c.significant
        out_rows.append([
            r.label, metric_title(r.metric), format_diff(c), format_ci(c), format_p(c),
            format_p_value(r.p_holm) if c.testable else MISSING, format_verdict(c, significant),
        ])
        best.append([False] * 6 + [bool(significant)])
    notes = [deviation_note(deviations)] if deviations else []
    notes += [
        f"Δ = mean(loss) − mean({baseline}) over seeds. p (Welch): {TEST_NAME}, scipy.stats.ttest_ind(equal_var=False), "
        f"unadjusted; the interval is the {level} Welch confidence interval of Δ. With fewer than 2 seeds on either side "
        "the test is not run ('not testable')."
    ]
    if several:
        notes.append(
            f"p (Holm): {HOLM_NAME} adjusted p over the {tested} tests of this table (every loss against {baseline} "
            f"on every metric), which keeps the chance of any false 'yes' at α = {alpha:g}; 'yes' when it is below "
            f"{alpha:g}. Unadjusted, about {alpha * tested:.1f} of {tested} tests would say 'yes' by chance alone when "
            f"no loss differs from {baseline}."
        )
    else:
        notes.append(f"One test: p (Holm) equals p (Welch); 'yes' when p < {alpha:g}, i.e. the difference exceeds the seed-to-seed noise.")
    align = ["left", "left", "right", "right", "right", "right", "left"]
    title = f"Difference to the baseline — {suite}"
    return TableText(title, header, out_rows, best, notes, 2, align=align, unbroken=(3,),
                     narrow=_stacked(title, header, out_rows, best, notes, baseline))


def _stacked(title, header, rows, best, notes, baseline) -> TableText:
    """The baseline table for a narrow terminal: each loss label heads its group of metric rows
    (indented) instead of filling a column, and the Δ header names the baseline in the title,
    so that the interval column keeps ``[-0.067, +0.032]`` on one line at 80 columns."""
    out_rows, out_best = [], []
    for row, flags in zip(rows, best):
        if not out_rows or row[0] != previous:
            out_rows.append([row[0]] + [""] * (len(row) - 2))
            out_best.append([False] * (len(row) - 1))
        previous = row[0]
        out_rows.append([f"  {row[1]}"] + row[2:])
        out_best.append(flags[1:])
    narrow_header = ["Loss function / metric", "Δ", *header[3:]]
    align = ["left", "right", "right", "right", "right", "left"]
    return TableText(f"{title} (Δ vs {baseline})", narrow_header, out_rows, out_best, notes, 1, align=align,
                     unbroken=(2,))


def suite_tables(
    groups: list[Group], suite: str, extra_metrics: list[str] | None = None, *, paper=None,
    baseline_rows: list[BaselineRow] | None = None, baseline: str | None = None, deviations=None,
    notes: list[str] | None = None,
) -> list[TableText]:
    """``notes``: lines every table of the suite carries first (e.g. how a suite was tuned)."""
    tables = [table1(groups, suite, paper, deviations), table2(groups, suite, paper, deviations)]
    if (retrieval := table3(groups, suite, deviations)) is not None:
        tables.append(retrieval)
    if extra_metrics:
        tables.append(extra_table(groups, suite, extra_metrics, deviations))
    if (accuracy := accuracy_table(groups, suite, deviations)) is not None:
        tables.append(accuracy)
    if baseline is not None and baseline_rows is not None:
        tables.append(baseline_table(baseline_rows, suite, baseline, deviations))
    for table in tables:
        table.notes[:0] = list(notes or [])
    return tables


def summary_tables(s, extra_metrics: list[str] | None = None, *, paper=None, notes: list[str] | None = None,
                   diagnosis: list[str] | None = None) -> list[TableText]:
    """The tables of one ``SuiteSummary`` (titled with its overrides, noting its deviations);
    ``diagnosis``: why a loss loses (``results/diagnosis.py``), under Table 1."""
    tables = suite_tables(
        s.groups, s.title, extra_metrics, paper=paper, baseline_rows=s.baseline_rows, baseline=s.baseline,
        deviations=s.deviations, notes=notes,
    )
    tables[0].notes += list(diagnosis or [])
    return tables


def paper_tables(paper) -> list[TableText]:
    """The paper's Tables 1 and 2 as printed (every row marked as the paper's), with how each
    was read as a note."""
    tables = []
    for number, table in sorted(paper.tables.items()):
        header = ["Dataset", "Model", "Loss function"] + [
            "F1 (the paper's: macro-F1)" if m == "macro_f1" else metric_title(m) for m in table.metrics
        ]
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
