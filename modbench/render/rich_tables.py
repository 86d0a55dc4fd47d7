"""Rich tables for the terminal; the best value of each column in bold green, the paper's rows
in dim italics."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from modbench.render.layout import PAPER, TableText


def to_rich(table: TableText) -> Table:
    out = Table(title=escape(table.title), title_justify="left")
    for i, name in enumerate(table.header):
        out.add_column(escape(name), justify=table.align[i])
    for row, best, kind in zip(table.rows, table.best, table.kinds):
        cells = [escape(c) for c in row]
        out.add_row(
            *[f"[bold green]{c}[/]" if b else c for c, b in zip(cells, best)],
            style="italic dim" if kind == PAPER else None,
        )
    return out


def print_tables(console: Console, tables: list[TableText]) -> None:
    for table in tables:
        console.print(to_rich(table))
        for note in table.notes:
            console.print(note, markup=False, highlight=False)
