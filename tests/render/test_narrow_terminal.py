"""Tables stay readable at 80 and 60 columns: metric headers whole, no cell
cut to "Cross-…", no line wider than the terminal. Through the CLI runner with $COLUMNS."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from modbench.cache.store import RunStore
from modbench.cli.app import app
from results.factory import suite_runs, write_cached

VALUES = {"nmi": 0.512345, "f1": 0.4, "recall@1": 0.61, "recall@2": 0.72, "recall@4": 0.83, "recall@8": 0.94, "macro_f1": 0.5, "map@r": 0.3, "p@1": 0.61}


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


INTERVAL = r"\[[+-]\d\.\d{3}, [+-]\d\.\d{3}\]"


def _report_at(cache, monkeypatch, columns, *args):
    monkeypatch.setenv("COLUMNS", str(columns))
    result = CliRunner().invoke(app, ["report", "--suite", "digits", "--cache-dir", str(cache), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_every_line_fits_80_columns_and_intervals_stay_whole(cache, monkeypatch):
    """Tables and every note under them: no line over 80 columns, no interval cut after its
    comma, no word cut by the wrapping of notes."""
    import re

    out = _report_at(cache, monkeypatch, 80, "--baseline", "Cross-entropy")
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    assert not any(re.search(r"\[[+-]\d\.\d{3},?\s*[│┃]\s*$", line) for line in lines)
    words = set(out.split())
    for word in ("denominator)", "Seeds:", "Cross-entropy"):
        assert word in words, word
    assert "Retrieval — digits" in out and "MAP@R" in out and "P@1" in out


def test_stacked_table_keeps_every_loss_and_metric_and_whole_intervals(monkeypatch):
    """A (loss, metric, Δ, interval, ρ) table wider than the terminal is stacked: the loss label
    heads its group of metric rows, every interval stays on one line at 80 columns."""
    import io
    import re

    from rich.console import Console

    from modbench.render.layout import TableText, _stacked
    from modbench.render.rich_tables import print_tables

    monkeypatch.delenv("COLUMNS", raising=False)
    labels = ["Cross-entropy x e^5 (control)", "New loss (sigmoid reading)", "Triplet loss"]
    metrics = ["NMI", "F1 (pairs)", "macro-F1", "R@1", "R@2", "R@4", "R@8"]
    header = ["Loss function", "Metric", "Δ", "95% CI (unadj.) of the difference", "ρ (per-seed correlation)"]
    rows = [[lb, m, "+0.012", "[-0.067, +0.032]", "+0.50"] for lb in labels for m in metrics]
    best = [[False] * 5 for _ in rows]
    align = ["left", "left", "right", "right", "right"]
    wide = TableText("t", header, rows, best, ["a note"], 2, align=align, unbroken=(3,),
                     narrow=_stacked("t", header, rows, best, ["a note"], align, unbroken=(3,)))
    buffer = io.StringIO()
    print_tables(Console(file=buffer, width=80, color_system=None), [wide])
    out = buffer.getvalue()
    assert max(len(line) for line in out.splitlines()) <= 80
    assert len(re.findall(INTERVAL, out)) == len(rows)
    assert out.count("│   NMI ") == 3 and out.count("│   R@8 ") == 3
    assert "│ Triplet loss " in out
    buffer = io.StringIO()
    print_tables(Console(file=buffer, width=200, color_system=None), [wide])
    assert buffer.getvalue().count("│ Triplet loss ") == len(metrics)  # wide: one row per metric


def test_tables_in_a_real_80_column_terminal(cache, tmp_path):
    """tmux draws the report in an 80-column terminal; the captured screen keeps every line
    within 80 columns and every interval whole."""
    import re
    import shutil
    import subprocess
    import sys
    import time

    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    name = f"modbench-{tmp_path.name}"[:40]
    done = tmp_path / "done"
    command = (f"env -u COLUMNS {sys.executable} -m modbench report --suite digits --cache-dir {cache} "
               f"--baseline Cross-entropy > /dev/tty; touch {done}; sleep 60")
    socket = str(tmp_path / "tmux.sock")
    subprocess.run(["tmux", "-S", socket, "new-session", "-d", "-s", name, "-x", "80", "-y", "50", command], check=True)
    try:
        for _ in range(600):
            if done.exists():
                break
            time.sleep(0.1)
        assert done.exists(), "the report did not finish"
        screen = subprocess.run(["tmux", "-S", socket, "capture-pane", "-p", "-J", "-S", "-", "-t", name],
                                check=True, capture_output=True, text=True).stdout
    finally:
        subprocess.run(["tmux", "-S", socket, "kill-server"], check=False)
    # -J joins lines the terminal wrapped: a line over 80 columns is one the terminal had to wrap
    lines = screen.splitlines()
    assert "Table 2 layout" in screen and "Retrieval" in screen
    assert max(len(line.rstrip()) for line in lines) <= 80, max(lines, key=len)
    assert not any(re.search(r"\[[+-]\d\.\d{3},?\s*[│┃]\s*$", line) for line in lines)


def test_rich_console_at_80_wraps_notes_at_words(monkeypatch):
    import io

    from rich.console import Console

    from modbench.render.layout import TableText
    from modbench.render.rich_tables import print_tables

    monkeypatch.delenv("COLUMNS", raising=False)
    note = " ".join(f"word{i:03d}" for i in range(60))
    table = TableText("t", ["Loss function", "NMI"], [["A", "0.5"]], [[False, False]], [note])
    buffer = io.StringIO()
    print_tables(Console(file=buffer, width=80, color_system=None), [table])
    lines = buffer.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert buffer.getvalue().split() [-60:] == note.split()
