"""Exception types that map onto modbench's exit codes (README.md, "Using it").

``UserError`` (exit 2) is anything the user must fix: a bad flag, an invalid suite file, an
unknown name, missing dataset files. ``RunError`` (exit 1) is a failure during a run. Messages
are one line that names the file, the key and the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped (``\\n``), so that an
    error quoting a user's value (a key, a name) stays one line on stderr."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class ModbenchError(Exception):
    """Base class; ``exit_code`` says what the command-line exits with. The message is always
    one line (see ``one_line``)."""

    exit_code = 1

    def __init__(self, *args):
        if args and isinstance(args[0], str):
            args = (one_line(args[0]), *args[1:])
        super().__init__(*args)


class UserError(ModbenchError):
    """Something the user must fix (exit code 2)."""

    exit_code = 2


class RunError(ModbenchError):
    """A failure while training or evaluating (exit code 1)."""

    exit_code = 1


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The closest match to ``name`` among ``choices``, or None when nothing is close."""
    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return matches[0] if matches else None


def unknown_name_message(kind: str, name: str, choices: Iterable[str]) -> str:
    """``unknown loss 'improvd'; did you mean 'improved'? (choices: a, b, c)``."""
    choices = sorted(choices)
    hint = closest(name, choices)
    did_you_mean = f"; did you mean '{hint}'?" if hint else ""
    return f"unknown {kind} '{name}'{did_you_mean} (choices: {', '.join(choices)})"


class UnknownNameError(UserError):
    """A name that no registry knows."""

    def __init__(self, kind: str, name: str, choices: Iterable[str]):
        self.kind, self.name, self.choices = kind, name, sorted(choices)
        super().__init__(unknown_name_message(kind, name, self.choices))
