"""The standard streams under abuse: closed, piped into ``head``, a full disk, an ASCII locale.

The rules (docs/reliability.md, "Stops, pipes and encodings"):

- stdout or stderr closed at start (``modbench list >&-``): the closed descriptor is reopened on
  the null device, so output is discarded (and no file opened later can take descriptor 1 or 2);
  the command runs and exits as usual.
- The reader of stdout goes away (``modbench report | head -1``): modbench stops writing, prints
  nothing and exits 141 (128 + SIGPIPE), the status a shell reports for a command ended by a
  broken pipe. Finished runs are in the cache already.
- stdout on a full disk (``> /dev/full``): one ``error:`` line on stderr, exit 2 (free space and
  run again), like a full disk in the cache.
- An encoding that cannot show a character (``LC_ALL=C PYTHONUTF8=0``, ``PYTHONIOENCODING=ascii``):
  text degrades to ASCII (``—`` becomes ``-``, ``±`` becomes ``+/-``, anything else ``?``)
  instead of failing after the work is done.

Only the standard library here: ``main()`` calls ``prepare_streams`` before anything else.
"""

from __future__ import annotations

import codecs
import errno
import os
import sys

BROKEN_PIPE_EXIT = 141  # 128 + SIGPIPE (13)
ERRORS_HANDLER = "modbench-ascii"

# What modbench prints outside ASCII (tables, notes, statistics), and its ASCII spelling. Rich
# draws its own table borders and bars in ASCII when the console's encoding is not UTF-8.
ASCII_FALLBACK = {
    "—": "-", "–": "-", "−": "-", "±": "+/-", "…": "...", "×": "x", "Δ": "delta ", "α": "alpha",
    "β": "beta", "γ": "gamma", "≤": "<=", "≥": ">=", "→": "->", "‘": "'", "’": "'", "“": '"',
    "”": '"', "•": "*", "·": ".", "━": "-", "─": "-", "│": "|", "✓": "ok", "✗": "x",
}


def _ascii_fallback(exc: UnicodeError):
    """A codecs error handler: each unencodable character by its ASCII spelling, else '?'."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    text = exc.object[exc.start:exc.end]
    return "".join(ASCII_FALLBACK.get(ch, "?") for ch in text), exc.end


codecs.register_error(ERRORS_HANDLER, _ascii_fallback)


def to_ascii(text: str) -> str:
    """``text`` with every non-ASCII character spelled as the fallback handler would."""
    return text if text.isascii() else text.encode("ascii", errors=ERRORS_HANDLER).decode("ascii")


def _reopen_closed(fd: int) -> bool:
    """Reopen descriptor ``fd`` on the null device when it is closed; True when it was."""
    try:
        os.fstat(fd)
        return False
    except OSError:
        pass
    null = os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor: ``fd`` itself, usually
    if null != fd:
        os.dup2(null, fd)
        os.close(null)
    return True


def prepare_streams() -> None:
    """Closed streams on the null device; stdout and stderr never fail on an encoding."""
    for fd, name in ((1, "stdout"), (2, "stderr")):
        if _reopen_closed(fd) or getattr(sys, name) is None:
            setattr(sys, name, open(fd, "w", closefd=False))  # noqa: SIM115 - lives as long as the process
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("_", "-")
        if not encoding.startswith("utf") and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=ERRORS_HANDLER)


def discard_stream(fd: int) -> None:
    """Point descriptor ``fd`` at the null device, so that what is still buffered for it cannot
    fail again when Python flushes it on the way out."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    except OSError:
        pass


def discard_stdout() -> None:
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):  # CliRunner's captured stdout has no descriptor
        return
    discard_stream(fd)


def flush_stdout() -> None:
    """Flush stdout now, so that a broken pipe or a full disk surfaces while the command can
    still say so (not in Python's final flush, which prints a traceback-like message)."""
    if sys.stdout is not None:
        sys.stdout.flush()


def is_disk_full(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


DISK_FULL_MESSAGE = (
    "cannot write the output ({reason}); free disk space and run the same command "
    "again (finished runs are kept in the cache)"
)
