"""The ``modbench`` command. Each command lives in its own module and imports torch only when
it runs, so that ``--help``, ``--version`` and ``list`` start fast."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from modbench import __version__
from modbench.cli.compare import compare
from modbench.cli.eval import eval_
from modbench.cli.list_cmd import list_
from modbench.cli.report import report
from modbench.cli.train import train

app = typer.Typer(
    name="modbench",
    help="Benchmark loss functions for image classification: train the same network once per "
    "loss, measure NMI, F1 and Recall@k, print the paper's Tables 1 and 2.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"modbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = None,
) -> None:
    """modbench: an honest, fast benchmark of loss functions."""


app.command("train")(train)
app.command("eval")(eval_)
app.command("compare")(compare)
app.command("report")(report)
app.command("list")(list_)


def _one_line_warnings() -> None:
    """Library warnings (e.g. fixture data, deprecations) as one ``warning:`` line on stderr."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        from modbench.cli.common import warn

        warn(str(message).splitlines()[0] if str(message) else category.__name__)

    warnings.showwarning = show


def main() -> None:
    _one_line_warnings()
    app()
