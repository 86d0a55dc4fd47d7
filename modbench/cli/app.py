"""The ``modbench`` command. Each command lives in its own module and imports torch only when
it runs, so that ``--help``, ``--version`` and ``list`` start fast."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from modbench import __version__
from modbench.cli.compare import compare
from modbench.cli.eval import eval_
from modbench.cli.list_cmd import list_
from modbench.cli.report import report
from modbench.cli.train import train
from modbench.cli.tune import tune

class OneLineErrors(TyperGroup):
    """Command-line usage errors (unknown option, missing or out-of-range value) as one line on
    stderr with exit code 2, like every other error of modbench, instead of a usage box."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        from typer._click.exceptions import ClickException, NoArgsIsHelpError

        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except ClickException as exc:
            from modbench.cli.common import err
            from modbench.errors import one_line

            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            err.print(f"error: {one_line(exc.format_message())}{hint}", markup=False, highlight=False)
            sys.exit(exc.exit_code)
        except typer.Abort:
            sys.stderr.write("aborted\n")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=OneLineErrors,
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
app.command("tune")(tune)


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
