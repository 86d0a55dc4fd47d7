"""GitHub Markdown tables (tabulate): best value of each column in bold, the paper's rows in
italics. Every text (titles, cells, notes) goes through ``safe_text.markdown_text``."""

from __future__ import annotations

from tabulate import tabulate

from modbench.render.layout import PAPER, TableText
from modbench.render.safe_text import markdown_text


def escape(text: str) -> str:
    """Text shown literally in Markdown: no HTML, no link, no table cell break, one line."""
    return markdown_text(text)


def _cell(text: str, best: bool, kind: str) -> str:
    text = escape(text)
    if kind == PAPER and text:
        return f"_{text}_"
    return f"**{text}**" if best else text


def table_markdown(table: TableText, heading: str = "###") -> str:
    rows = [
        [_cell(c, b, kind) for c, b in zip(row, best)]
        for row, best, kind in zip(table.rows, table.best, table.kinds)
    ]
    body = tabulate(rows, headers=[escape(h) for h in table.header], tablefmt="github", colalign=table.align, disable_numparse=True)
    text = f"{heading} {escape(table.title)}\n\n{body}"
    for note in table.notes:
        text += f"\n\n{escape(note)}"
    return text


def tables_markdown(tables: list[TableText], heading: str = "###") -> str:
    return "\n\n".join(table_markdown(t, heading) for t in tables) + "\n"
