"""GitHub Markdown tables (tabulate), best value of each column in bold."""

from __future__ import annotations

from tabulate import tabulate

from modbench.render.layout import TableText


def table_markdown(table: TableText) -> str:
    rows = [[f"**{c}**" if b else c for c, b in zip(row, best)] for row, best in zip(table.rows, table.best)]
    text = f"### {table.title}\n\n" + tabulate(rows, headers=table.header, tablefmt="github")
    for note in table.notes:
        text += f"\n\n{note}"
    return text


def tables_markdown(tables: list[TableText]) -> str:
    return "\n\n".join(table_markdown(t) for t in tables) + "\n"
