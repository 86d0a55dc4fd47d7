"""Users' code (plugin losses and backbones, ``plugins.py``) runs in modbench's process but owns
neither its results stream nor its exit status.

While it runs (its module's import, its constructor, every training step), ``sys.stdout`` is
``sys.stderr``: a ``print`` in a loss shows beside the progress, never inside ``--json`` or CSV
output. A ``SystemExit`` it raises (``sys.exit(0)`` in a loss) becomes one error line naming the
file and line that raised it and the plugin (exit code 1 for a run, 2 at import), instead of
ending modbench with that status and no output. Worker processes (``--jobs``) send their file
descriptor 1 to stderr as a whole (``detach_stdout``): they never write results there.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from typing import Callable, Iterator

from modbench.errors import ModbenchError, RunError


def _where(tb) -> str:
    """``file:line`` of the innermost Python frame of ``tb`` (where SystemExit was raised)."""
    frames = traceback.extract_tb(tb)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "an unknown place"


@contextlib.contextmanager
def running_user_code(what: str, error: Callable[[str], ModbenchError] = RunError) -> Iterator[None]:
    """Run the block with stdout sent to stderr; a SystemExit inside it raises ``error`` with one
    line: ``{what}: sys.exit(CODE) called at FILE:LINE; ...``."""
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    except SystemExit as exc:
        raise error(
            f"{what}: sys.exit({exc.code!r}) called at {_where(exc.__traceback__)}; user code must raise an "
            "exception, not exit (nothing was recorded for this run)"
        ) from None


def detach_stdout() -> None:
    """In a worker process: file descriptor 1 and ``sys.stdout`` go to stderr, so that nothing
    the worker or user code prints reaches the parent's results stream."""
    sys.stdout.flush()
    os.dup2(2, 1)
    sys.stdout = sys.stderr
