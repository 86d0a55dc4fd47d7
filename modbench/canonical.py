"""Canonical JSON: one text per value, so that equal configurations compare and hash equal.

Keys sorted, no spaces, ASCII only; a value JSON cannot hold is written as its ``str``. Run keys
(``suite.keys.config_key``), result checksums (``cache.checksum``) and every "same configuration?"
comparison of the reports use this one function. A leaf: imports nothing of modbench.
"""

from __future__ import annotations

import json
from typing import Any


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
