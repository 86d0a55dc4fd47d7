"""What became of one run of a list (a leaf: the runner, the launchers and the command line share
it without importing each other)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Outcome:
    run: Any  # RunSpec
    status: str  # "trained" | "cached" | "failed" | "missing" (| "error": a launched job died)
    result: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None
