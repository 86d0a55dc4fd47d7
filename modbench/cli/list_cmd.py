"""``modbench list``: suites, losses, backbones and datasets, one line each. Imports no torch."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from modbench.cli.common import fail, handle_errors, out
from modbench.errors import closest

# Imports inside functions here: the command's work (the application layer modbench.bench, the
# suite loader, the cache, the results with numpy and scipy, torch) is imported when the command
# runs, so that `modbench --help` and shell completion load only Typer and Rich
# (tests/test_startup.py).

WHAT = ("suites", "losses", "backbones", "datasets")
SINGULAR = {"suite": "suites", "loss": "losses", "backbone": "backbones", "dataset": "datasets"}


def _suite_lines() -> list[tuple[str, str]]:
    from modbench.suite.loader import builtin_suite_names, locate_suite, read_yaml

    lines = []
    for name in builtin_suite_names():
        try:
            description = str(read_yaml(locate_suite(name)).get("description", "")).strip()
        except Exception as exc:  # noqa: BLE001 - a broken file still gets its line
            description = f"(unreadable: {exc})"
        first = description.splitlines()[0] if description else ""
        lines.append((name, "".join(c for c in first if c.isprintable())))  # escape codes dropped
    return lines


@handle_errors
def list_(
    what: Annotated[str, typer.Argument(help="suites, losses, backbones, datasets or all (singular works too).")] = "all",
    pattern: Annotated[str | None, typer.Argument(help="Names matching a shell pattern, e.g. losses 'pml:*' or backbones 'timm:*resnet*'.")] = None,
) -> None:
    """List suites, losses, backbones and datasets."""
    from modbench.backbones import backbone_lines
    from modbench.datasets import DATASETS
    from modbench.losses import loss_lines

    given, what = what, SINGULAR.get(what.strip().lower(), what.strip().lower())
    if what not in (*WHAT, "all"):
        hint = closest(what, [*WHAT, *SINGULAR, "all"])
        did_you_mean = f"did you mean '{hint}'? " if hint else ""
        raise fail(f"list {given}: {did_you_mean}choose one of {', '.join(WHAT)} or all")
    sections = {
        "suites": _suite_lines,
        "losses": lambda: loss_lines(pattern),
        "backbones": lambda: backbone_lines(pattern),
        "datasets": DATASETS.describe,
    }
    for name in WHAT if what == "all" else (what,):
        table = Table(title=name.capitalize(), title_justify="left", show_header=False, box=None, padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for key, description in sections[name]():
            table.add_row(Text(key), Text(description))  # text from files is data, never Rich markup
        out.print(table)
        out.print()
