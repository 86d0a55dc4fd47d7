"""What ``train``, ``compare`` and ``eval`` do around the application layer (``modbench.bench``):
its events drawn on stderr, its failures as warnings and the exit code."""

from __future__ import annotations

import typer

from modbench.bench.run import exit_code, failure_warnings
from modbench.cli.common import err, quiet_other_ranks, warn
from modbench.render.progress import ConsoleEvents


def console_events() -> ConsoleEvents:
    """Progress, notices and the summary line on stderr; under torchrun, the ranks other than
    0 quieted."""
    return ConsoleEvents(err, other_rank=quiet_other_ranks)


def end_with_failures(outcomes) -> None:
    """Warn about failed runs on stderr and end the command with exit code 1 when a run failed,
    died in its job, or has no usable result; return when every run is done."""
    for line in failure_warnings(outcomes):
        warn(line)
    code = exit_code(outcomes)
    if code:
        raise typer.Exit(code)
