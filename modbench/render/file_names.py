"""File and folder names from suite text (suite names, loss labels, study names) that never
collide: two different texts always give two different names.

Letters, digits, ``.``, ``_`` and ``-`` are kept; a text that needed any change (another
character replaced, leading dots stripped) or is longer than the limit keeps a readable prefix
and gets ``-`` and the first 8 hex digits of its sha256, so that ``a/b``, ``a_b`` and ``a b``,
or two labels that differ only past the limit, get their own files and folders. A name is
never a separator, ``..`` or a control character.
"""

from __future__ import annotations

import hashlib
import re

_OTHER = re.compile(r"[^A-Za-z0-9._-]+")


def digest8(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def readable_part(text: str) -> str:
    """``text`` with every other character run as ``_``, leading and trailing dots stripped
    (not one-to-one: for a name of its own, ``name_part``)."""
    return _OTHER.sub("_", str(text)).strip("._") or "_"


def name_part(text: str, limit: int = 60) -> str:
    """``text`` as one path component: itself when it is already safe and at most ``limit``
    characters, else a readable prefix of at most ``limit`` characters ending in its digest."""
    text = str(text)
    clean = readable_part(text)
    if clean == text and len(clean) <= limit:
        return clean
    return f"{clean[: max(1, limit - 9)].rstrip('._-') or '_'}-{digest8(text)}"
