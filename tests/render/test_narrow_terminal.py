"""Tables stay readable at 80 and 60 columns: metric headers whole, no cell
cut to "Cross-…", no line wider than the terminal. Through the CLI runner with $COLUMNS."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from modbench.cache.store import RunStore
from modbench.cli.app import app
from results.factory import suite_runs, write_cached

VALUES = {"nmi": 0.512345, "f1": 0.4, "recall@1": 0.61, "recall@2": 0.72, "recall@4": 0.83, "recall@8": 0.94, "macro_f1": 0.5}


@pytest.fixture
def cache(tmp_path):
    store = RunStore(tmp_path / "cache")
    for i, run in enumerate(suite_runs("digits", seeds=[0, 1, 2])):
        write_cached(store, run, {k: v - 0.01 * (i % 3) for k, v in VALUES.items()})
    return store.root


@pytest.mark.parametrize("columns", [80, 60])
def test_tables_fit_and_keep_headers_whole(cache, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    result = CliRunner().invoke(app, ["report", "--suite", "digits", "--cache-dir", str(cache), "--baseline", "Cross-entropy"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    table_lines = [line for line in out.splitlines() if line[:1] in "┏┃┡│└"]
    assert table_lines and max(len(line) for line in table_lines) <= columns
    assert "…" not in out
    header = next(line for line in out.splitlines() if "R@1" in line)
    for name in ("R@1", "R@2", "R@4", "R@8"):
        assert name in header
    assert "Table 2 layout — digits — Digits, Small CNN" in out
    # Table 1's headers: at 60 columns "F1 (pairs)" may wrap at its space, never inside a word
    table1 = out.split("Table 1 layout", 1)[1].split("└", 1)[0]
    for header in ("NMI", "F1", "(pairs)", "macro-F1"):
        assert header in table1
    for label in ("Cross-entropy", "Triplet loss", "New loss"):
        assert f"│ {label}" in out


def test_long_labels_wrap_at_spaces_and_short_words_stay_whole(monkeypatch):
    import io

    from rich.console import Console

    from modbench.render.layout import table2
    from modbench.render.rich_tables import print_tables
    from modbench.results.aggregate import group_rows
    from results.factory import make_row

    monkeypatch.delenv("COLUMNS", raising=False)  # the console's width decides
    labels = ["Cross-entropy", "Cross-entropy x e^5 (control)", "New loss (sigmoid reading, beta=4)"]
    rows = [make_row(label, loss=loss, seed=s, dataset="digits", metrics={k: 0.5 + s / 100 for k in VALUES})
            for label, loss in zip(labels, ["cross-entropy", "focal", "improved"]) for s in (0, 1)]
    for width in (80, 60, 50):
        buffer = io.StringIO()
        print_tables(Console(file=buffer, width=width, color_system=None), [table2(group_rows(rows), "d")])
        lines = buffer.getvalue().splitlines()
        assert max(len(line) for line in lines) <= width
        assert any("│ Cross-entropy " in line for line in lines) and "…" not in buffer.getvalue()
        assert any("│ R@1" in line or " R@1 " in line for line in lines)
