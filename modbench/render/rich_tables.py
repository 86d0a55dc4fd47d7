"""Rich tables for the terminal; the best value of each column in bold green, the paper's rows
in dim italics."""

from __future__ import annotations

import os

from rich.console import Console
from rich.table import Table

from modbench.render.layout import PAPER, TableText
from modbench.render.safe_text import plain_text, rich_text as escape


def to_rich(table: TableText) -> Table:
    out = Table(title=escape(table.title), title_justify="left")
    for i, name in enumerate(table.header):
        # Headers stay whole at any width (min_width); a cell too long for its column wraps
        # (fold) instead of being cut to "Cross-…".
        metric = i >= table.n_lead
        words = name.split() + ([] if metric else [w for row in table.rows for w in row[i].split()])
        widest_word = min(max((len(w) for w in words), default=1), 24)
        out.add_column(escape(name), justify=table.align[i], min_width=max(len(name), 5) if metric else widest_word, overflow="fold")
    for row, best, kind in zip(table.rows, table.best, table.kinds):
        cells = [escape(c) for c in row]
        out.add_row(
            *[f"[bold green]{c}[/]" if b else c for c, b in zip(cells, best)],
            style="italic dim" if kind == PAPER else None,
        )
    return out


def table_width(console: Console) -> int | None:
    """``$COLUMNS`` when the user set it (also for piped output, which is otherwise drawn wide so
    that files keep one line per row), else the console's own width."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        return None
    return columns if columns > 0 else None


def print_tables(console: Console, tables: list[TableText]) -> None:
    width = table_width(console)
    for table in tables:
        console.print(to_rich(table), width=width)
        for note in table.notes:
            console.print(plain_text(note), markup=False, highlight=False)
