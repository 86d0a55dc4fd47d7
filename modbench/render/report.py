"""The self-contained Markdown report (``modbench report --markdown``): for each suite the Table 1
and Table 2 layouts after the verdict table against a baseline, the training-curve plots linked by relative
path, and the protocol; with the paper's numbers, their source and the paper's own tables."""

from __future__ import annotations

import os
from pathlib import Path

from modbench.render.layout import paper_tables, summary_tables
from modbench.render.markdown import escape, table_markdown
from modbench.render.names import metric_title
from modbench.render.plots import BAND, PlotFile
from modbench.render.protocol import protocol_markdown
from modbench.results.curves import TRAIN_LOSS
from modbench.results.summary import SuiteSummary

TITLE = "modbench report"


def relative_link(path: Path, base: Path) -> str:
    """``path`` relative to the folder ``base`` (both taken from the current folder when
    relative), with forward slashes, as a Markdown link target."""
    rel = os.path.relpath(Path(path).absolute(), Path(base).absolute())
    return Path(rel).as_posix().replace(" ", "%20")


def plots_markdown(plots: list[PlotFile], base: Path, heading: str = "###") -> str:
    lines = [f"{heading} Training curves — {plots[0].suite}" if plots else f"{heading} Training curves"]
    banded = any(p.banded for p in plots)
    lines.append(
        "Per epoch, on the validation split (the training loss on the training batches): one line per "
        "loss setting" + (f", the mean over seeds, with a band spanning the {BAND}." if banded else ".")
    )
    for p in plots:
        what = "training loss" if p.metric == TRAIN_LOSS else f"validation {metric_title(p.metric)}"
        lines.append(f"![{escape(p.suite)}: {what}]({relative_link(p.path, base)})")
    return "\n\n".join(lines)


def paper_markdown(paper, heading: str = "##") -> str:
    """The paper's Tables 1 and 2 as printed, with their source and how they were read."""
    src = paper.source
    parts = [
        f"{heading} The paper's numbers",
        f"From {escape(', '.join(src['authors']))}, \"{escape(src['title'])}\", {src['year']} "
        f"(published {src['published']}), Tables {', '.join(str(t) for t in src['tables'])}; "
        "stored in modbench as `modbench/paper_data/paper_tables.json`. These are the paper's values, "
        "not measurements of modbench.",
        "\n".join(f"- {escape(n)}" for n in paper.notes),
    ]
    parts += [table_markdown(t, heading + "#") for t in paper_tables(paper)]
    return "\n\n".join(parts)


def report_markdown(
    summaries: list[SuiteSummary],
    *,
    plots: dict[str, list[PlotFile]] | None = None,
    link_base: Path = Path("."),
    paper=None,
    version: str = "",
) -> str:
    """The whole document. ``link_base`` is the folder the document is written to (plots are
    linked relative to it); ``paper`` (from ``modbench.results.paper.load_paper``) adds the
    paper's rows beside the measured ones and the paper's tables at the end."""
    plots = plots or {}
    parts = [f"# {TITLE}"]
    intro = [
        f"Results of {len(summaries)} suite{'s' if len(summaries) != 1 else ''} read from the modbench cache"
        + (f" by modbench {version}" if version else "") + ".",
        "Table cells are the mean ± sample standard deviation (ddof=1) over seeds, with the number of "
        "finished seeds in the Seeds column; the best mean of each column is in bold."
        + (" Rows in italics marked (paper) are the paper's printed numbers, not measured here." if paper else ""),
    ]
    parts.append(" ".join(intro))
    if summaries:
        parts.append("Suites: " + ", ".join(f"[{escape(s.title)}](#{_anchor(s.title)})" for s in summaries) + ".")
    for s in summaries:
        parts.append(f"## {escape(s.title)}")
        tables = summary_tables(s, paper=paper)
        parts += [table_markdown(t) for t in tables]
        if plots.get(s.title):
            parts.append(plots_markdown(plots[s.title], link_base))
        parts.append(protocol_markdown(s.protocol).rstrip("\n"))
    if paper is not None:
        parts.append(paper_markdown(paper))
    return "\n\n".join(parts) + "\n"


def _anchor(text: str) -> str:
    """GitHub's heading anchor: lower case, spaces to '-', punctuation but '-' and '_' dropped."""
    out = []
    for ch in text.lower():
        if ch.isalnum() or ch in "-_":
            out.append(ch)
        elif ch == " ":
            out.append("-")
    return "".join(out)
