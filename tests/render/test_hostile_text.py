"""Text from a suite is data: labels and suite names never become Rich
markup, terminal escape codes, HTML, links or forged table rows, in any output."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

from modbench.cli.app import app
from modbench.render.layout import summary_tables
from modbench.render.markdown import tables_markdown
from modbench.render.records import rows_csv, rows_json
from modbench.render.report import report_markdown
from modbench.render.rich_tables import print_tables
from modbench.render.safe_text import csv_text, markdown_text, plain_text, rich_text
from modbench.results.summary import summarize_rows
from results.factory import make_row

HOSTILE = [
    "[/]",
    "[link=https://evil.example]click[/link]",
    "[blink]blink[/blink]",
    "clear\x1b[2Jscreen",
    "title\x1b]0;pwned\x07set",
    "bell\x07 nul\x00 del\x7f c1\x9b",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[a link](javascript:alert(1))",
    "pipe | cell",
    "line1\n## forged heading\n| forged | row |",
    "cr\rreturn",
    "rtl\u202eexe.txt",
    "=HYPERLINK(\"http://evil\")",
]
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_plain_text_strips_escape_sequences_and_controls():
    assert plain_text("clear\x1b[2Jscreen") == "clearscreen"
    assert plain_text("title\x1b]0;pwned\x07set") == "titleset"
    assert plain_text("a\nb\r\nc\td") == "a b c d"
    for text in HOSTILE:
        assert not CONTROL.search(plain_text(text)) and "\n" not in plain_text(text)


def test_rich_text_prints_literally():
    for text in HOSTILE:
        buffer = io.StringIO()
        Console(file=buffer, width=500, color_system=None).print(rich_text(text))
        assert buffer.getvalue().rstrip("\n") == plain_text(text)


def test_markdown_text_is_never_html_or_a_link():
    assert markdown_text("<script>") == "&lt;script&gt;"
    assert markdown_text("[a](b)") == "\\[a\\](b)"
    assert markdown_text("a|b") == "a\\|b"
    assert markdown_text("x\n## y") == "x ## y"


def test_csv_text_defuses_formulas():
    assert csv_text("=1+1") == "'=1+1" and csv_text("@x") == "'@x" and csv_text(-0.5) == -0.5


def hostile_rows(text):
    return [
        make_row(text, suite=text, seed=s, metrics={"nmi": 0.5 + s / 10, "f1": 0.4, "recall@1": 0.6}) for s in (0, 1)
    ] + [make_row("plain", suite=text, loss="margin", metrics={"nmi": 0.4, "f1": 0.3, "recall@1": 0.5})]


@pytest.mark.parametrize("text", HOSTILE)
def test_every_output_holds(text):
    rows = hostile_rows(text)
    summaries = summarize_rows(rows, baselines={text: "plain"})
    tables = [t for s in summaries for t in summary_tables(s)]

    # Rich: no markup read (no MarkupError, the brackets shown), no control character out
    buffer = io.StringIO()
    print_tables(Console(file=buffer, width=400, color_system=None), tables)
    shown = buffer.getvalue()
    assert not CONTROL.search(shown)
    assert plain_text(text) in shown

    # Markdown: no HTML, no link, no forged heading or row
    md = report_markdown(summaries) + tables_markdown(tables)
    assert not CONTROL.search(md)
    assert "<script" not in md and "<img" not in md and "](javascript" not in md.replace("\\](", "")
    assert not any(line.startswith(("## forged", "| forged")) for line in md.splitlines())
    for line in md.splitlines():
        if line.startswith("|"):  # every table row keeps its column count
            assert len(re.findall(r"(?<!\\)\|", line)) in {n + 1 for n in (2, 3, 4, 5, 6, 7, 8)}

    # CSV: one record per run, the label as one clean field
    records = list(csv.DictReader(io.StringIO(rows_csv(rows, ["nmi"]))))
    assert len(records) == 3
    assert records[0]["label"] in (plain_text(text), "'" + plain_text(text))
    assert not CONTROL.search(rows_csv(rows, ["nmi"]))

    # JSON: as is (json.dumps escapes control characters)
    data = json.loads(rows_json(rows))
    assert data[0]["label"] == text and data[0]["suite"] == text


def test_compare_with_a_markup_label(tmp_path):
    """``label: "[/]"`` used to fail every compare with a MarkupError in the progress display."""
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "name: '[blink]suite[/blink]'\ndataset: {name: digits, subset: 5}\nbackbone: {name: small-cnn, embedding_dim: 8}\n"
        "train: {epochs: 1, batch_size: 16, lr: 1.0e-3}\nseeds: [0]\n"
        "losses:\n  - {name: cross-entropy, label: '[/]'}\n  - {name: triplet, label: '<script>x</script>'}\n"
    )
    result = CliRunner().invoke(app, ["compare", "--suite", str(suite), "--device", "cpu", "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert "[/]" in result.stdout and "[blink]suite[/blink]" in result.stdout
    md = CliRunner().invoke(app, ["report", "--suite", str(suite), "--markdown", "--cache-dir", str(tmp_path / "c")])
    assert md.exit_code == 0, md.output
    assert "<script>" not in md.stdout and "&lt;script&gt;x&lt;/script&gt;" in md.stdout
