"""Rich tables for the terminal; the best value of each column in bold green."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from modbench.render.layout import TableText


def to_rich(table: TableText) -> Table:
    out = Table(title=table.title, title_justify="left")
    for i, name in enumerate(table.header):
        out.add_column(name, justify="left" if i < table.n_lead else "right")
    for row, best in zip(table.rows, table.best):
        out.add_row(*[f"[bold green]{c}[/]" if b else c for c, b in zip(row, best)])
    return out


def print_tables(console: Console, tables: list[TableText]) -> None:
    for table in tables:
        console.print(to_rich(table))
        for note in table.notes:
            console.print(note)
