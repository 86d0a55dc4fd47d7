"""The ``modbench`` command. Each command lives in its own module and imports torch only when
it runs, so that ``--help``, ``--version`` and ``list`` start fast."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Annotated, Optional

import typer

from modbench import __version__
from modbench.cli.cache_cmd import cache_app
from modbench.cli.common import Command, Group, fail, warn
from modbench.cli.compare import compare
from modbench.cli.eval import eval_
from modbench.cli.export import export
from modbench.cli.list_cmd import list_
from modbench.cli.merge_tuned import merge_tuned
from modbench.cli.report import report
from modbench.cli.streams import prepare_streams
from modbench.cli.train import train
from modbench.cli.tune import tune

# Imports inside functions here: the command's work (the application layer modbench.bench, the
# suite loader, the cache, the results with numpy and scipy, torch) is imported when the command
# runs, so that `modbench --help` and shell completion load only Typer and Rich
# (tests/test_startup.py).


class OneLineErrors(Group):
    """Command-line usage errors (unknown option, missing or out-of-range value) as one line on
    stderr with exit code 2, like every other error of modbench, instead of a usage box.

    Only Typer's public API: ``typer.TyperException`` is the base of the usage errors Typer
    raises (its vendored Click's ``ClickException``, typer >= 0.26; pinned in pyproject.toml).
    ``modbench`` alone prints the help (exit 2), handled here rather than through Click's
    private ``NoArgsIsHelpError``."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        argv = list(sys.argv[1:] if args is None else args)
        completing = any(k.startswith("_") and k.endswith("_COMPLETE") for k in os.environ)
        if not argv and not completing:
            super().main(["--help"], prog_name, complete_var, standalone_mode=False, **extra)
            sys.exit(2)
        try:
            code = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as exc:
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
    from modbench.launch.limits import env_threads_problem

    problem = env_threads_problem()  # before torch starts that many threads on import
    if problem:
        raise fail(problem)


app.command("train", cls=Command)(train)
app.command("eval", cls=Command)(eval_)
app.command("compare", cls=Command)(compare)
app.command("report", cls=Command)(report)
app.command("list", cls=Command)(list_)
app.add_typer(cache_app, name="cache")
app.command("export", cls=Command)(export)
app.command("tune", cls=Command)(tune)
app.command("merge-tuned", cls=Command)(merge_tuned)


def _one_line_warnings() -> None:
    """Library warnings (e.g. fixture data, deprecations) as one ``warning:`` line on stderr."""
    def show(message, category, filename, lineno, file=None, line=None):
        warn(str(message).splitlines()[0] if str(message) else category.__name__)

    warnings.showwarning = show


def main() -> None:
    prepare_streams()  # closed streams, ASCII-only locales (docs/reliability.md)
    _one_line_warnings()
    app()
