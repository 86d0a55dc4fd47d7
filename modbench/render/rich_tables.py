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
        # A short text column (loss labels) never wraps, so "Cross-entropy" is never cut to
        # "Cross-…"; a long one, and the number columns, wrap at spaces ("0.600 ±" / "0.010").
        # (Column min_width is avoided: Rich then draws tables wider than the terminal.)
        if i < table.n_lead and max((len(r[i]) for r in table.rows), default=0) <= 24:
            out.add_column(escape(name), justify=table.align[i], no_wrap=True)
        else:
            out.add_column(escape(name), justify=table.align[i], overflow="fold")
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
