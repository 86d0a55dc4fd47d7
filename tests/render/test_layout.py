"""Table layouts: Seeds column, spread notes, the paper's rows and the verdict tables."""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from modbench.render.layout import PAPER, secondary_table, table1, table2, verdict_table
from modbench.render.markdown import table_markdown
from modbench.render.rich_tables import print_tables
from modbench.results.aggregate import group_rows
from modbench.results.verdicts_table import VerdictSettings, build_verdicts
from modbench.results.paper import load_paper
from results.factory import make_row
from results.test_verdicts_table import study

R1 = [0.70, 0.73, 0.71]


def cifar100_rows(epochs=70):
    rows = []
    for label, loss, shift in (("Margin", "margin", 0.0), ("Mine", "improved", 0.05), ("ProxyNCA", "proxynca", -0.1)):
        for seed, v in enumerate(R1):
            rows.append(make_row(label, loss=loss, seed=seed, dataset="cifar100", train={"epochs": epochs},
                                 params={"beta": 4, "gamma": 5} if loss == "improved" else {},
                                 metrics={"nmi": v + shift, "f1": v + shift, "recall@1": v + shift, "recall@2": v,
                                          "recall@4": v, "recall@8": v}))
    return rows


def test_table2_layout_with_seeds_and_spread():
    groups = group_rows(cifar100_rows())
    t = table2(groups, "c100")
    # one dataset and one backbone: they move into the title, the headers are short
    assert t.title == "Table 2 layout — c100 — CIFAR-100, GoogLeNet"
    assert t.header == ["Loss function", "Seeds", "R@1", "R@2", "R@4", "R@8"]
    assert t.rows[0][:2] == ["Margin", "3"]
    assert t.rows[1][2] == f"{np.mean(R1) + 0.05:.3f} ± {np.std(R1, ddof=1):.3f}"
    assert [b[2] for b in t.best] == [False, True, False]  # best Recall@1: Mine
    assert any(n.startswith("R@k: Recall@k") for n in t.notes)
    mixed = table2(group_rows(cifar100_rows() + [make_row("D", dataset="digits", metrics={"recall@1": 0.5})]), "m")
    assert mixed.header[:4] == ["Dataset", "Model", "Loss function", "Seeds"]
    assert mixed.rows[-1][:3] == ["Digits", "GoogLeNet", "D"]
    assert any("ddof=1" in n for n in t.notes)
    assert t.kinds == ["measured"] * 3


def test_one_seed_says_there_is_no_spread():
    t = table1(group_rows([make_row("A", metrics={"nmi": 0.5, "f1": 0.4})]), "s")
    assert t.header == ["Loss function", "Seeds", "NMI", "F1 (pairs)", "macro-F1"]  # which F1
    assert t.rows == [["A", "1", "0.500", "0.400", "—"]]
    assert any("One seed per loss" in n for n in t.notes)


def test_paper_rows_follow_the_matching_measured_rows():
    paper = load_paper()
    groups = group_rows(cifar100_rows(epochs=2))
    t1 = table1(groups, "c100", paper)
    assert [r[0] for r in t1.rows] == ["Margin", "Margin loss (paper)", "Mine", "New loss* (paper)", "ProxyNCA"]
    assert t1.kinds == ["measured", PAPER, "measured", PAPER, "measured"]
    # the paper's F1 is macro-F1 of classification: beside modbench's macro-F1, never F1 (pairs)
    assert t1.rows[1][1:] == ["—", "0.512", "—", "0.541"]
    assert t1.rows[3][1:] == ["—", "0.542", "—", "0.550"]
    assert any("paper's F1" in n and "macro-F1" in n for n in t1.notes)
    assert not any(t1.best[1]) and not any(t1.best[3])  # the paper's numbers are never "best"
    assert any("Wen, Yang, Zhang and Zhang" in n and "Table 1" in n for n in t1.notes)
    assert any("epochs 2 (paper: 70)" in n for n in t1.notes)
    t2 = table2(groups, "c100", paper)
    assert t2.rows[3] == ["New loss* (paper)", "—", "0.632", "0.720", "0.779", "0.817"]
    md = table_markdown(t2)
    assert "_New loss\\* (paper)_" in md  # escaped and in italics
    # a suite the paper does not have gets no paper rows
    t = table2(group_rows([make_row("A", dataset="digits", backbone="small-cnn", metrics={"recall@1": 0.9})]), "d", paper)
    assert t.kinds == ["measured"]


def verdicts():
    rows, records = study({"CE": 0.0, "Paper": -0.05, "Scaled CE": 0.0, "Noisy": -0.004}, seeds=3)
    return rows, build_verdicts(group_rows(rows), "CE", VerdictSettings(margin=0.01), records.__getitem__,
                                baseline_source="the suite's verdict.baseline", secondary_metrics=["recall@1", "nmi"])


def test_verdict_table_rows_words_and_notes():
    _, sv = verdicts()
    t = verdict_table(sv, "s")
    assert t.title == "Verdicts vs CE — s"
    assert t.header == ["Loss function", "Δ MAP@R", "Holm CI of Δ", "Verdict", "Seeds"]
    by = {r[0]: r for r in t.rows}
    assert by["Paper"][3] == "worse" and by["Paper"][1] == f"{sv.verdict_of('Paper').contrast.delta:+.3f}"
    assert by["Scaled CE"][3] == "equivalent ±0.01" and by["Scaled CE"][4] == "3"
    low, high = (float(x) for x in by["Paper"][2].strip("[]").split(","))
    assert high < 0 and low < high
    notes = " ".join(t.notes)
    assert "seeds (training) and test queries" in notes and "Holm" in notes and "α = 0.05" in notes
    assert "±0.01" in notes and "verdict.baseline" in notes
    text = (" ".join(" ".join(r) for r in t.rows) + notes).lower()
    for word in ("exceeds seed noise", "level", "same", "no difference"):
        assert word not in text


def test_undecided_row_says_how_many_seeds():
    rows, records = study({"CE": 0.0, "Close": -0.012}, seeds=2, jitter=0.05)
    sv = build_verdicts(group_rows(rows), "CE", VerdictSettings(), records.__getitem__)
    (row,) = verdict_table(sv, "s").rows
    v = sv.primary[0]
    assert row[3] == "undecided"
    assert row[4] == (f"2 → ~{v.seeds_needed}" if v.seeds_needed is not None else "2 → ?")


def test_secondary_table_is_unadjusted_and_has_no_verdicts():
    _, sv = verdicts()
    t = secondary_table(sv, "s")
    assert t.header == ["Loss function", "Metric", "Δ", "95% CI (unadj.)", "ρ"]
    assert [r[1] for r in t.rows[:2]] == ["R@1", "NMI"]
    assert any("UNADJUSTED" in n for n in t.notes)
    assert not any(w in " ".join(" ".join(r) for r in t.rows) for w in ("better", "worse", "equivalent"))


def test_verdict_tables_fit_80_columns():
    _, sv = verdicts()
    for t in (verdict_table(sv, "s"), secondary_table(sv, "s")):
        buffer = io.StringIO()
        print_tables(Console(file=buffer, width=80), [t])
        assert max(len(line) for line in buffer.getvalue().splitlines()) <= 80
        table_lines = [line for line in buffer.getvalue().splitlines() if line[:1] in "┏┃┡│└"]
        assert all("…" not in line for line in table_lines)  # nothing cut


def test_rich_output_does_not_read_cells_as_markup():
    rows = [make_row("[bold]x[/] loss", metrics={"nmi": 0.5, "f1": 0.4})]
    buffer = io.StringIO()
    print_tables(Console(file=buffer, width=200), [table1(group_rows(rows), "s")])
    assert "[bold]x[/] loss" in buffer.getvalue()


def test_suite_notes_come_first_on_every_table():
    from modbench.render.layout import suite_tables

    rows, sv = verdicts()
    tables = suite_tables(group_rows(rows), "s", paper=None, verdicts=sv, notes=["tuned: 5 trials"])
    assert tables[0].title.startswith("Verdicts vs CE")  # the verdict table comes first
    assert tables[-1].title.startswith("Other metrics vs CE (descriptive)")
    retrieval = any(t.title.startswith("Retrieval") for t in tables)
    assert len(tables) == 4 + retrieval and all(t.notes[0] == "tuned: 5 trials" for t in tables)


def test_map_at_r_and_p_at_1_have_a_table():
    """MAP@R (the default tuning and verdict metric) and P@1 are shown, mean ± std over seeds,
    computed here from the rows' values."""
    import statistics

    from modbench.render.layout import suite_tables

    values = {("A", 0): (0.30, 0.61), ("A", 1): (0.34, 0.65), ("B", 0): (0.20, 0.50), ("B", 1): (0.22, 0.52)}
    rows = [make_row(label, loss="triplet" if label == "A" else "margin", seed=s, dataset="digits",
                     metrics={"nmi": 0.5, "map@r": m, "p@1": p}) for (label, s), (m, p) in values.items()]
    tables = suite_tables(group_rows(rows), "d")
    table = next(t for t in tables if "MAP@R" in t.header)
    assert table.header == ["Loss function", "Seeds", "MAP@R", "P@1"]
    for row in table.rows:
        ms = [m for (label, _), (m, _) in values.items() if label == row[0]]
        ps = [p for (label, _), (_, p) in values.items() if label == row[0]]
        assert row[2] == f"{statistics.mean(ms):.3f} ± {statistics.stdev(ms):.3f}"
        assert row[3] == f"{statistics.mean(ps):.3f} ± {statistics.stdev(ps):.3f}"
    assert table.best[0][2] and not table.best[1][2]  # A has the higher MAP@R
    assert any("MAP@R" in n and "P@1" in n for n in table.notes)
    # runs cached before these metrics existed: no empty table
    old = [make_row("A", seed=0, metrics={"nmi": 0.5})]
    assert not any("MAP@R" in t.header for t in suite_tables(group_rows(old), "d"))


def test_measured_with_line_has_one_field_order():
    """A fresh result (numerics as the engine built them) and the same result read back from a
    sorted JSON file name their fields in the same order."""
    from modbench.render.layout import identity_note

    fresh = {"device": "cpu", "precision": "float32", "cpu_threads": 1}
    cached = dict(sorted(fresh.items()))  # json.dump(..., sort_keys=True) order
    notes = [identity_note(group_rows([make_row("A", metrics={"nmi": 0.5}, result_extra={"numerics": n})]))
             for n in (fresh, cached)]
    assert notes[0] == notes[1] == "Measured with device cpu, precision float32, cpu_threads 1."
