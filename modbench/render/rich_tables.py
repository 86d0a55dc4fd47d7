"""Rich tables for the terminal; the best value of each column in bold green, the paper's rows
in dim italics."""

from __future__ import annotations

import os

from rich.console import Console
from rich.table import Table
from rich.text import Text

from modbench.render.layout import PAPER, TableText
from modbench.render.safe_text import plain_text, rich_text as escape


LONG_LABEL = 24  # a text column with longer cells may wrap; shorter ones never do


def _longest_word(texts) -> int:
    return max((len(w) for t in texts for w in t.split()), default=1)


def _natural(table: TableText) -> list[int]:
    columns = list(zip(*table.rows)) if table.rows else [[] for _ in table.header]
    return [max([len(h)] + [len(c) for c in col]) for h, col in zip(table.header, columns)]


def natural_width(table: TableText) -> int:
    """The width of ``table`` with no cell wrapped (borders and padding included)."""
    natural = _natural(table)
    return sum(natural) + 3 * len(natural) + 1


def _lead_widths(table: TableText, width: int | None) -> dict[int, int]:
    """Fixed widths for the long text columns when the table is wider than ``width``: as wide as
    the columns of numbers leave, never narrower than their longest word, so "Cross-entropy" is
    never cut. The numbers stay whole ("0.600 ± 0.010" on one line) when the labels can wrap
    enough for that; else a number column is at its narrowest (one word per line). Rich would
    shrink the widest column most and fold its words, and a column ``min_width`` makes it draw
    past the terminal."""
    if width is None or natural_width(table) <= width:
        return {}
    natural = _natural(table)
    columns = list(zip(*table.rows)) if table.rows else [[] for _ in table.header]
    long = [i for i in range(table.n_lead) if natural[i] > LONG_LABEL]
    if not long:
        return {}
    words = {i: _longest_word([table.header[i], *columns[i]]) for i in long}
    # a number column at its narrowest keeps "0.600 ±" on one line when it can
    narrowest = [
        natural[i] if i < table.n_lead or i in table.unbroken
        else max(_longest_word([table.header[i], *columns[i]]), min(natural[i], 7))
        for i in range(len(natural))
    ]
    for widths in (natural, narrowest):
        others = sum(widths[i] + 3 for i in range(len(natural)) if i not in long) + 1
        budget = max((width - others) // len(long) - 3, 1)
        if widths is narrowest or all(budget >= words[i] for i in long):
            break
    return {i: max(words[i], min(natural[i], budget)) for i in long}


def to_rich(table: TableText, width: int | None = None) -> Table:
    """The Rich table of ``table``, laid out for a terminal ``width`` columns wide (None: the
    console's)."""
    out = Table(title=escape(table.title), title_justify="left")
    fixed = _lead_widths(table, width)
    for i, name in enumerate(table.header):
        # A short text column (loss labels) never wraps, so "Cross-entropy" is never cut to
        # "Cross-…"; a long one wraps at spaces within its width, the number columns at the
        # space of "0.600 ± 0.010".
        if i in table.unbroken or (
            i < table.n_lead and i not in fixed and max((len(r[i]) for r in table.rows), default=0) <= LONG_LABEL
        ):
            out.add_column(escape(name), justify=table.align[i], no_wrap=True)
        else:
            out.add_column(escape(name), justify=table.align[i], overflow="fold", width=fixed.get(i))
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
    """Each table, in its narrow layout where the wide one does not fit the terminal, and its
    notes wrapped at spaces to the same width in a terminal or at ``$COLUMNS`` (a terminal would
    cut their words)."""
    width = table_width(console)
    for table in tables:
        drawn = width or console.width
        if table.narrow is not None and natural_width(table) > drawn:
            table = table.narrow
        console.print(to_rich(table, drawn), width=width)
        for note in table.notes:
            if width or console.is_terminal:  # wrapped at spaces to the width the table fits
                console.print(Text(plain_text(note)), width=drawn, soft_wrap=False, highlight=False)
            else:  # piped output keeps one line per note (as the console wraps, if it does)
                console.print(Text(plain_text(note)), highlight=False)
