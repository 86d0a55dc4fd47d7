"""The two table layouts of the paper, as plain header + rows of strings.

Table 1: Loss function, Seeds, NMI, F1 (pairs), macro-F1 (both F1s, each header saying which).
Table 2: Dataset, Model, Loss function, Seeds, R@1/2/4/8 (Dataset and Model in the title when
constant, so that it fits 80 columns). A "Run on" column appears where rows differ in run
identity (device, threads, ...); every table notes how its rows differ from the suite as
written (overrides, fixture data). Best mean of each metric column (per suite) is flagged so renderers can
highlight it. With the paper's numbers, each measured row whose dataset, backbone and loss the
paper has is followed by the paper's row, marked "(paper)" and never flagged as best.
The verdict table (first, with a baseline) gives per loss the difference to the baseline on the
suite's verdict metric, its Holm-adjusted interval and the verdict; a descriptive table after
Tables 1 and 2 gives the other metrics' differences with unadjusted intervals. The
classifier-accuracy table shows the softmax-family losses' top-1 accuracy ("n/a" for the others).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import math

from modbench.render.cells import (
    MISSING, ONE_SEED_NOTE, SPREAD_NOTE, best_groups, format_cell, format_paper_value, format_seeds,
)
from modbench.render.names import backbone_name, dataset_name, metric_short, metric_title
from modbench.results.aggregate import Group
from modbench.results.deviations import note as deviation_note
from modbench.results.rows import (
    ACCURACY, ACCURACY_LABEL, NOT_APPLICABLE, TABLE1_METRICS, TABLE2_METRICS, TABLE3_METRICS,
)
from modbench.results.split_protocol import protocol_note, protocol_text
from modbench.results.verdict import NOISE_BOTH

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


def _num(x: float, digits: int = 3) -> str:
    return MISSING if x is None or math.isnan(x) else f"{x:+.{digits}f}"


def _interval(low: float, high: float) -> str:
    return MISSING if math.isnan(low) else f"[{low:+.3f}, {high:+.3f}]"


def verdict_word(v) -> str:
    """better / worse / equivalent ±δ / undecided (``results.verdict.Verdict``)."""
    if v.verdict == "equivalent":
        return f"equivalent ±{v.margin:g}"
    if v.verdict in ("better", "worse") and v.within_margin:
        return f"{v.verdict} (within ±{v.margin:g})"
    return v.verdict


def needs_text(v) -> str:
    """For an undecided contrast, about how many seeds in all would decide it."""
    if v.verdict != "undecided":
        return ""
    if v.seeds_needed is not None:
        return f"~{v.seeds_needed}"
    return "?"


def verdict_table(sv, suite: str, deviations=None, decided_at: dict[str, int] | None = None) -> TableText:
    """The primary contrasts of ``sv`` (``results.verdicts_table.SuiteVerdicts``): per loss
    setting Δ on the verdict metric, the Holm-adjusted interval, the verdict, the seeds used and,
    for an undecided one, about how many seeds in all would decide it. ``decided_at`` (label ->
    seeds) comes from ``compare --until-decided``: how many seeds each contrast needed."""
    s = sv.settings
    metric = metric_short(s.metric)
    header = ["Loss function", f"Δ {metric}", "Seq. CI of Δ" if decided_at is not None else "Holm CI of Δ", "Verdict", "Seeds"]
    rows, best = [], []
    for v in sv.primary:
        c = v.contrast
        label = c.candidate
        if label in sv.missing:
            word = "no records" if c.n_seeds else "no seeds"  # no per-query records, or no seed both finished
        else:
            word = verdict_word(v)
        seeds = str(c.n_seeds)
        if decided_at and label in decided_at and v.verdict != "undecided":
            seeds = f"{decided_at[label]}"
        if label not in sv.missing and (needs := needs_text(v)):
            seeds = f"{seeds} → {needs}"
        rows.append([label, _num(c.delta), _interval(v.ci_low, v.ci_high), word, seeds])
        best.append([False] * len(header))
    notes = [deviation_note(deviations)] if deviations else []
    notes.append(
        f"Primary contrasts on {metric_title(s.metric)}: Δ = mean over seeds of (loss − {sv.baseline}), runs paired "
        f"by seed (a seed fixes every loss's initialisation and batches; only seeds both finished). Baseline: {sv.baseline}, from "
        f"{sv.baseline_source}."
    )
    if decided_at is None:
        notes.append(
            f"The interval covers both noise sources: {NOISE_BOTH}. Holm CI: adjusted over the family of the "
            f"{sv.family} testable primary contrasts at α = {s.alpha:g} (family-wise), so that it excludes 0 exactly "
            "when the verdict is better or worse."
        )
    else:
        notes.append(
            f"The interval covers both noise sources: {NOISE_BOTH}. Seq. CI: at the level the sequential rule of "
            f"--until-decided tested the contrast at its last look (O'Brien-Fleming alpha spending over the planned "
            f"looks, Holm over the {len(sv.primary)} primary contrasts), which keeps the family-wise error at "
            f"α = {s.alpha:g} over every look."
        )
    notes.append(
        f"Verdict: better / worse when the Holm-adjusted test of Δ = 0 rejects; equivalent ±{s.margin:g} when the "
        f"Holm-adjusted two one-sided tests put Δ inside ±{s.margin:g} (the suite's verdict.margin); undecided "
        "otherwise: neither a difference nor equivalence is shown, which is no evidence that the losses match."
    )
    if any(v.verdict == "undecided" and v.contrast.candidate not in sv.missing for v in sv.primary):
        notes.append(
            "Seeds: the seeds used; 3 → ~8: an undecided contrast that about 8 seeds in all would decide with 80% "
            "power at the observed variances ('?': no number of seeds can, see the reason below); "
            "`modbench compare --until-decided` adds them."
        )
    if decided_at is not None:
        notes.append("Seeds: with --until-decided, the seeds at which each contrast was decided (sequential rule, "
                      "docs/reporting.md); an undecided one used every seed of the budget.")
    for v in sv.primary:
        why = sv.missing.get(v.contrast.candidate) or (v.reason if v.verdict == "undecided" else "")
        if why:
            notes.append(f"{v.contrast.candidate}: {why}.")
    align = ["left", "right", "right", "left", "right"]
    return TableText(f"Verdicts vs {sv.baseline} — {suite}", header, rows, best, notes, 1, align=align, unbroken=(2,))


def secondary_table(sv, suite: str, deviations=None) -> TableText | None:
    """The other metrics against the baseline: Δ with its unadjusted interval, descriptive only."""
    contrasts = [c for cs in sv.secondary.values() for c in cs]
    if not contrasts:
        return None
    alpha = sv.settings.alpha
    level = f"{100 * (1 - alpha):g}%"
    header = ["Loss function", "Metric", "Δ", f"{level} CI (unadj.)", "ρ"]
    rows, best = [], []
    for c in contrasts:
        rows.append([c.candidate, metric_short(c.metric), _num(c.delta), _interval(c.ci_low, c.ci_high),
                     MISSING if math.isnan(c.rho) else f"{c.rho:+.2f}"])
        best.append([False] * len(header))
    notes = [deviation_note(deviations)] if deviations else []
    notes.append(
        f"Secondary metrics, descriptive: Δ = mean over seeds of (loss − {sv.baseline}), paired by seed, with the "
        f"UNADJUSTED {level} interval (covers {NOISE_BOTH}; NMI and F1 by a class-stratified bootstrap). "
        "No verdict is drawn from these rows: only the primary contrasts are tested."
    )
    notes.append("ρ: correlation of the two losses' per-seed values (— under 3 seeds).")
    align = ["left", "left", "right", "right", "right"]
    title = f"Other metrics vs {sv.baseline} (descriptive) — {suite}"
    return TableText(title, header, rows, best, notes, 2, align=align, unbroken=(3,),
                     narrow=_stacked(title, header, rows, best, notes, align, unbroken=(3,)))


def _stacked(title, header, rows, best, notes, align, unbroken=()) -> TableText:
    """A table of (loss, metric, numbers...) rows for a narrow terminal: each loss label heads
    its group of indented metric rows instead of filling a column, so that the interval column
    keeps ``[-0.067, +0.032]`` on one line at 80 columns."""
    out_rows, out_best, previous = [], [], None
    for row, flags in zip(rows, best):
        if row[0] != previous:
            out_rows.append([row[0]] + [""] * (len(row) - 2))
            out_best.append([False] * (len(row) - 1))
        previous = row[0]
        out_rows.append([f"  {row[1]}"] + row[2:])
        out_best.append(flags[1:])
    return TableText(title, [f"{header[0]} / {header[1].lower()}", *header[2:]], out_rows, out_best, notes, 1,
                     align=[align[0], *align[2:]], unbroken=tuple(i - 1 for i in unbroken if i >= 2))


def suite_protocols(groups: list[Group]) -> list[str]:
    """The protocol of each finished run (with its class counts), else of each configuration."""
    done = [protocol_text(r.config or g.config, r.result) for g in groups for r in g.done if r.result]
    return done or [protocol_text(g.config) for g in groups if g.config]


def suite_tables(
    groups: list[Group], suite: str, extra_metrics: list[str] | None = None, *, paper=None,
    verdicts=None, deviations=None, notes: list[str] | None = None, decided_at: dict[str, int] | None = None,
) -> list[TableText]:
    """``notes``: lines every table of the suite carries first (e.g. how a suite was tuned).
    With ``verdicts`` (``results.verdicts_table.SuiteVerdicts``) the verdict table comes first,
    the descriptive table of the other metrics after Tables 1 and 2."""
    tables = []
    if verdicts is not None:
        tables.append(verdict_table(verdicts, suite, deviations, decided_at))
    tables += [table1(groups, suite, paper, deviations), table2(groups, suite, paper, deviations)]
    if (retrieval := table3(groups, suite, deviations)) is not None:
        tables.append(retrieval)
    if extra_metrics:
        tables.append(extra_table(groups, suite, extra_metrics, deviations))
    if (accuracy := accuracy_table(groups, suite, deviations)) is not None:
        tables.append(accuracy)
    if verdicts is not None and (secondary := secondary_table(verdicts, suite, deviations)) is not None:
        tables.append(secondary)
    protocol = protocol_note(suite_protocols(groups))
    for table in tables:
        table.notes[:0] = list(notes or []) + ([protocol] if protocol else [])
    return tables


def summary_tables(s, extra_metrics: list[str] | None = None, *, paper=None, notes: list[str] | None = None,
                   decided_at: dict[str, int] | None = None, diagnosis: list[str] | None = None) -> list[TableText]:
    """The tables of one ``SuiteSummary`` (titled with its overrides, noting its deviations);
    ``diagnosis``: why a loss loses (``results/diagnosis.py``), under Table 1. ``decided_at``
    defaults to the verdicts' own (set when they are the sequential rule's)."""
    if decided_at is None and s.verdicts is not None:
        decided_at = s.verdicts.decided_at
    tables = suite_tables(
        s.groups, s.title, extra_metrics, paper=paper, verdicts=s.verdicts, deviations=s.deviations, notes=notes,
        decided_at=decided_at,
    )
    first = next(t for t in tables if t.title.startswith("Table 1 layout"))
    first.notes += list(diagnosis or [])
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
