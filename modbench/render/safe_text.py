"""Text from a suite (labels, suite names, descriptions, paths) is data: one escaping rule per
output, applied where the text leaves modbench, so that it never becomes markup, a terminal
escape code, HTML or a forged table row.

- ``plain_text``: terminal escape sequences (CSI, OSC, ...) and every other control character
  (C0, DEL, C1, and the Unicode bidirectional overrides that reorder what a reader sees) removed;
  newlines and tabs become one space, so one value is one line. For stderr and plain notes;
  ``plain_lines`` keeps the newlines of a message of several lines (error messages).
- ``rich_text``: ``plain_text`` then ``rich.markup.escape``: for anything Rich parses as markup
  (table titles and cells, progress descriptions).
- ``markdown_text``: ``plain_text`` then HTML-escaped (``<script>`` -> ``&lt;script&gt;``) and the
  characters Markdown reads as syntax backslash-escaped (``|`` cannot end a table cell, ``[``
  cannot open a link, ``*``/``_`` cannot start emphasis).
- ``csv_text``: ``plain_text`` on strings (the csv module does the quoting); a string that a
  spreadsheet would run as a formula (leading ``=``, ``+``, ``-``, ``@``) gets a leading ``'``.
  Numbers pass unchanged.
- ``plot_text``: ``plain_text`` with ``$`` escaped, so that matplotlib never reads a label as
  mathtext (a label like ``$\frac{$`` made saving a figure fail).
- JSON: as is (``json.dumps`` escapes control characters itself).

Hand-written because no library here does the terminal part: Rich's ``escape`` only escapes
markup brackets, ``html.escape`` only HTML, and ``tabulate`` neither.
"""

from __future__ import annotations

import html
import re
from typing import Any

from rich.markup import escape

# ESC-introduced sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), and the
# two-character ones (ESC + one byte); their 8-bit C1 forms are caught by the control class.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI, e.g. ESC[2J
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, e.g. ESC]0;title BEL
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|\x1b.?",  # any other escape
    re.DOTALL,
)
_WHITESPACE_CONTROLS = re.compile(r"[\t\n\r\v\f\u2028\u2029\x85]+")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Backticks, '#' (only a heading at the start of a line, and every line here starts with
# modbench's own text) and '~' can only change how text looks, never inject anything.
_MARKDOWN_SYNTAX = re.compile(r"([\\*_\[\]|])")
_FORMULA_START = ("=", "+", "-", "@")


def plain_text(text: Any) -> str:
    """``text`` as one line without escape sequences or control characters."""
    text = _ESCAPE_SEQUENCE.sub("", str(text))
    text = _WHITESPACE_CONTROLS.sub(" ", text)
    return _CONTROLS.sub("", text)


def plain_lines(text: Any) -> str:
    """``plain_text`` line by line: for a message of several lines (one problem per line)."""
    return "\n".join(plain_text(line) for line in str(text).split("\n"))


def rich_text(text: Any) -> str:
    """For Rich markup contexts: printed literally, brackets and all."""
    return escape(plain_text(text))


def markdown_text(text: Any) -> str:
    """For a Markdown table cell, heading or paragraph: shown literally, never HTML or a link."""
    return _MARKDOWN_SYNTAX.sub(r"\\\1", html.escape(plain_text(text), quote=False))


def csv_text(value: Any) -> Any:
    """For a CSV field (strings cleaned; other values unchanged)."""
    if not isinstance(value, str):
        return value
    text = plain_text(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def plot_text(text: Any) -> str:
    """For a matplotlib title or legend label: shown literally, never parsed as mathtext."""
    return plain_text(text).replace("$", r"\$")
