"""What every command shares: consoles, error handling, option types and shell completion.

Only the standard library, Typer, Rich and modbench's errors and stream helpers are imported
here, so that ``--help`` stays fast.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from typer.core import TyperCommand, TyperGroup

from modbench.cli.streams import to_ascii
from modbench.errors import ModbenchError

# Imports inside functions here: the command's work (the application layer modbench.bench, the
# suite loader, the cache, the results with numpy and scipy, torch) is imported when the command
# runs, so that `modbench --help` and shell completion load only Typer and Rich
# (tests/test_startup.py).


def cli_names():
    """The options as the application layer's errors name them (``bench.report.Spelling``: the
    checks the command line and the Python API share); imported when a command runs."""
    from modbench.bench.report import Spelling

    return Spelling(until_decided="--until-decided", max_seeds="--max-seeds", step="--step", losses="--loss",
                    suite="--suite", seeds="--seed", force="--force", force_first="run `modbench compare --force` first")


def _isatty(stream) -> bool:
    """False for a closed or missing stream too (``modbench list >&-``: sys.stdout is None)."""
    try:
        return bool(stream is not None and stream.isatty())
    except (ValueError, OSError):
        return False


class _Console(Console):
    def render_str(self, text: str, **kwargs):
        """On a console that cannot show a character, its ASCII spelling before Rich measures
        the text, so that table columns stay aligned (``±`` is one cell, ``+/-`` three)."""
        if not self.encoding.lower().startswith("utf"):
            text = to_ascii(text)
        return super().render_str(text, **kwargs)

    def on_broken_pipe(self) -> None:
        """The reader went away (`| head -1`): quiet from now on, exit 141 (Rich exits 1)."""
        from modbench.cli import streams

        self.quiet = True
        if self.stderr:
            streams.discard_stream(2)
        else:
            streams.discard_stdout()
        raise typer.Exit(streams.BROKEN_PIPE_EXIT)


# Results go to stdout; progress, logs, warnings and errors to stderr.
# Piped output is not cut to 80 columns: tables keep one line per row in files and CI logs.
out = _Console(soft_wrap=True, width=None if _isatty(sys.stdout) else 200)
err = _Console(stderr=True, soft_wrap=True)


class _PlainFlags:
    """Plain on/off flags show no ``<bool>`` value placeholder in --help (they take no value)."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params


class Command(_PlainFlags, TyperCommand):
    """Every modbench command (``app.command(..., cls=Command)``)."""


class Group(_PlainFlags, TyperGroup):
    """Every modbench command group."""


def plain(text) -> str:
    """``text`` without escape sequences or control characters, newlines kept: suite text in a
    message (a label, a suite name, a path) must never clear the screen or retitle the terminal
    (the render layer's one rule, ``safe_text.plain_lines``)."""
    from modbench.render.safe_text import plain_lines

    return plain_lines(text)


def fail(message: str, code: int = 2) -> typer.Exit:
    message = plain(message)
    if err.quiet:  # a torchrun rank other than 0 (quiet_other_ranks): errors still show
        sys.stderr.write(f"error (rank {os.environ.get('RANK', '?')}): {message}\n")
    for line in message.split("\n"):  # a suite with several problems: one line each
        err.print(f"error: {line}", markup=False, highlight=False)
    return typer.Exit(code)


def handle_errors(fn):
    """One line on stderr and the exit code of the error; a traceback only with MODBENCH_DEBUG=1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from modbench.cli import streams
        debug = os.environ.get("MODBENCH_DEBUG") == "1"
        try:
            try:
                result = fn(*args, **kwargs)
            except typer.Exit:
                streams.flush_stdout()  # what was printed before the exit code reaches its reader
                raise
            streams.flush_stdout()
            return result
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except BrokenPipeError:  # the reader went away (`| head -1`): quietly, as the shell does
            streams.discard_stdout()
            raise typer.Exit(streams.BROKEN_PIPE_EXIT) from None
        except OSError as exc:
            if debug:
                raise
            if not streams.is_disk_full(exc):
                raise _unexpected(exc) from None
            streams.discard_stdout()
            raise fail(streams.DISK_FULL_MESSAGE.format(reason=exc.strerror or exc), 2) from None
        except ModbenchError as exc:
            if debug:
                raise
            raise fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            err.print(
                "interrupted: finished runs and the last epoch's checkpoint are kept; "
                "run the same command again to resume",
                markup=False,
            )
            raise typer.Exit(130) from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
            if debug:
                raise
            raise _unexpected(exc) from None

    return wrapper


def _unexpected(exc: Exception) -> typer.Exit:
    """The one line (exit 1) for an error nobody expected."""
    first = str(exc).splitlines()[0] if str(exc) else ""
    return fail(f"{type(exc).__name__}: {first} (set MODBENCH_DEBUG=1 for the traceback)", 1)


def complete_suite(incomplete: str) -> list[str]:
    from modbench.suite.loader import builtin_suite_names

    return [n for n in builtin_suite_names() if n.startswith(incomplete)]


def complete_loss(incomplete: str) -> list[str]:
    from modbench.losses import LOSSES

    return [n for n in LOSSES.names() if n.startswith(incomplete)]


def warn(message: str) -> None:
    err.print(f"warning: {plain(message)}", markup=False, highlight=False)


# -- option types ---------------------------------------------------------------------------
def _bounded_threads(value: Optional[int]) -> Optional[int]:
    """--threads past the machine's bound (``launch/limits.py``): one line, exit 2."""
    from modbench.launch.limits import threads_problem

    problem = threads_problem(value)
    if problem:
        raise typer.BadParameter(problem.split(": ", 1)[1])
    return value


def _bounded_jobs(value: Optional[int]) -> Optional[int]:
    """--jobs past the machine's bound (``launch/limits.py``): one line, exit 2."""
    from modbench.launch.limits import jobs_problem

    problem = jobs_problem(value)
    if problem:
        raise typer.BadParameter(problem.split(": ", 1)[1])
    return value



SuiteOpt = Annotated[
    str,
    typer.Option("--suite", "-s", help="Built-in suite name (see `modbench list`) or path to a YAML file.", autocompletion=complete_suite),
]
LossOpt = Annotated[
    Optional[list[str]],
    typer.Option("--loss", "-l", help="Only this loss (name or label); repeatable \\[default: every loss of the suite].", autocompletion=complete_loss),
]
SeedOpt = Annotated[Optional[list[int]], typer.Option("--seed", min=0, help="Seed(s) instead of the suite's; repeatable \\[default: the suite's seeds].")]
EpochsOpt = Annotated[Optional[int], typer.Option("--epochs", min=1, help="Epochs instead of the suite's train.epochs (a different cached run) \\[default: the suite's].")]
SubsetOpt = Annotated[Optional[int], typer.Option("--subset", min=1, help="At most N training images per class, validation in proportion; the test split stays whole (a different cached run) \\[default: the suite's dataset.subset, else every image].")]
TestSubsetOpt = Annotated[Optional[int], typer.Option("--test-subset", min=2, help="Smoke runs only: at most N test images per class, named as a deviation in every output (a different cached run) \\[default: the suite's dataset.test_subset, else the whole test split].")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")]
PrecisionOpt = Annotated[Optional[str], typer.Option("--precision", help="The network's training precision instead of the suite's train.precision: float32, or bf16 autocast (CPUs with bf16 support; a different cached run) \\[default: the suite's, float32].")]
ThreadsOpt = Annotated[Optional[int], typer.Option("--threads", min=1, callback=_bounded_threads, help="CPU threads per run, part of its key \\[default: the suite's train.cpu_threads, else 1; never OMP_NUM_THREADS] (README).")]
CacheDirOpt = Annotated[Optional[Path], typer.Option("--cache-dir", help="Cache root \\[default: $MODBENCH_CACHE, else ~/.cache/modbench].")]
DataDirOpt = Annotated[Optional[Path], typer.Option("--data-dir", envvar="MODBENCH_DATA", help="Where datasets are read \\[default: $MODBENCH_DATA; needed by every dataset but digits].", show_envvar=False)]
DownloadOpt = Annotated[bool, typer.Option("--download", help="Download missing dataset files.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Train again even if cached.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON on stdout: one object per run, then the aggregates over seeds (\"seed\": null).")]
MarkdownOpt = Annotated[bool, typer.Option("--markdown", help="GitHub Markdown tables on stdout.")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="CSV on stdout: one line per run.")]


def one_output_format(**flags: bool) -> str:
    chosen = [name for name, on in flags.items() if on]
    if len(chosen) > 1:
        raise fail(f"--{' and --'.join(chosen)} are mutually exclusive; choose one output format")
    return chosen[0] if chosen else "table"


# -- scaling: torchrun ranks, --jobs, --devices, --launcher, SLURM (docs/scaling.md) ----------
def quiet_other_ranks() -> None:
    """Under torchrun only rank 0 prints results and progress; the other ranks print errors only."""
    out.quiet = True
    out.file = open(os.devnull, "w")  # noqa: SIM115 - emit() writes to out.file directly
    err.quiet = True


_SCALING = "Scaling (docs/scaling.md)"
JobsOpt = Annotated[Optional[int], typer.Option("--jobs", "-j", min=1, callback=_bounded_jobs, help="Train up to N runs at once, one process each (implies --launcher local; at most 4 per CPU, and never more processes than runs or trials to do) \\[default: one run at a time, in this process].", rich_help_panel=_SCALING)]
DevicesOpt = Annotated[Optional[str], typer.Option("--devices", help="CUDA devices for the jobs, e.g. 0,1; job i uses device i mod n \\[default: every GPU, else a share of the CPU cores each].", rich_help_panel=_SCALING)]
LauncherOpt = Annotated[Optional[str], typer.Option("--launcher", help="inline: one run after another in this process; local: --jobs processes here; slurm: one SLURM job per run (submitit, pip install modbench\\[slurm]) \\[default: local with --jobs or --devices, else inline].", rich_help_panel=_SCALING)]
PartitionOpt = Annotated[Optional[str], typer.Option("--partition", help="SLURM partition \\[default: the suite's slurm.partition, else the cluster's].", rich_help_panel=_SCALING)]
GpusPerJobOpt = Annotated[Optional[int], typer.Option("--gpus-per-job", min=0, help="GPUs per SLURM job \\[default: the suite's, else 1].", rich_help_panel=_SCALING)]
TimeMinOpt = Annotated[Optional[int], typer.Option("--time-min", min=1, help="Time limit of each SLURM job in minutes \\[default: the suite's, else 1440].", rich_help_panel=_SCALING)]
SlurmLogDirOpt = Annotated[Optional[Path], typer.Option("--slurm-log-dir", help="Where submitit keeps job scripts and logs \\[default: <cache>/slurm].", rich_help_panel=_SCALING)]
