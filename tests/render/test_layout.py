"""Table layouts: Seeds column, spread notes, the paper's rows and the baseline table."""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from modbench.render.layout import PAPER, baseline_table, table1, table2
from modbench.render.markdown import table_markdown
from modbench.render.rich_tables import print_tables
from modbench.results.aggregate import group_rows
from modbench.results.baseline import compare_to_baseline
from modbench.results.paper import load_paper
from results.factory import make_row

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


def test_baseline_table_rows_and_notes():
    groups = group_rows(cifar100_rows())
    comparisons = compare_to_baseline(groups, "Margin", ["recall@1", "recall@2"])
    t = baseline_table(comparisons, "c100", "Margin")
    assert t.header[2] == "Δ vs Margin" and t.header[3] == "95% CI of Δ"
    assert t.rows[0][:3] == ["Mine", "Recall@1", "+0.050"]
    # same values shifted by a constant: no difference in spread, a clear difference in mean
    assert t.header[4:] == ["p (Welch)", "p (Holm)", "Exceeds seed noise? (Holm)"]
    assert t.rows[0][6] == "yes" and t.best[0][6]
    assert t.rows[1][2] == "+0.000" and t.rows[1][6] == "no"
    assert any("Welch" in n and "unadjusted" in n for n in t.notes)
    assert any("Holm-Bonferroni" in n and "α = 0.05" in n for n in t.notes)


def test_holm_column_beside_welch():
    """Several losses against one baseline: the Holm-adjusted p of each test, from the Welch
    p-values of the whole table."""
    from modbench.results.stats import holm

    rows = cifar100_rows()
    rows += [make_row("Close", loss="triplet", seed=s, dataset="cifar100", metrics={"recall@1": v + 0.01 + 0.003 * s})
             for s, v in enumerate(R1)]
    groups = group_rows(rows)
    comparisons = compare_to_baseline(groups, "Margin", ["recall@1"])
    t = baseline_table(comparisons, "c100", "Margin")
    welch_p = [c.comparison.p for c in comparisons]
    expected = holm(welch_p)
    assert [r.p_holm for r in comparisons] == expected
    assert all(r.family == 3 for r in comparisons)
    for row, r in zip(t.rows, comparisons):
        assert row[5] == ("<0.001" if r.p_holm < 0.001 else f"{r.p_holm:.3f}")
        assert row[6] == ("yes" if r.p_holm < 0.05 else "no")


def test_rich_output_does_not_read_cells_as_markup():
    rows = [make_row("[bold]x[/] loss", metrics={"nmi": 0.5, "f1": 0.4})]
    buffer = io.StringIO()
    print_tables(Console(file=buffer, width=200), [table1(group_rows(rows), "s")])
    assert "[bold]x[/] loss" in buffer.getvalue()


def test_suite_notes_come_first_on_every_table():
    from modbench.render.layout import suite_tables

    groups = group_rows(cifar100_rows())
    comparisons = compare_to_baseline(groups, "Margin", ["recall@1"])
    tables = suite_tables(groups, "c100", paper=None, baseline_rows=comparisons, baseline="Margin", notes=["tuned: 5 trials"])
    assert len(tables) == 3 and all(t.notes[0] == "tuned: 5 trials" for t in tables)


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
