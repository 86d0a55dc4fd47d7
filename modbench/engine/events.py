"""Progress events. The engine calls these; the command line turns them into Rich progress bars."""

from __future__ import annotations

from typing import Any


class Observer:
    """No-op base class; override what you need."""

    def run_numerics(self, run: Any, numerics: dict[str, Any]) -> None:
        """Before ``run_start``: the device, precision and CPU threads the run computes with."""

    def run_start(self, run: Any, *, start_epoch: int, epochs: int, steps_per_epoch: int) -> None: ...

    def batch_end(self, *, step: int, loss: float | None, images_per_s: float) -> None: ...

    def epoch_end(self, *, epoch: int, record: dict[str, Any]) -> None: ...

    def run_end(self, run: Any, *, status: str) -> None: ...

    def message(self, text: str) -> None:
        """A one-line notice for the user (stderr), e.g. a corrupted cache entry."""


def corrupt_notice(run: Any, exc: Exception, action: str) -> str:
    """The one warning line for a corrupted or refused cache file of ``run``."""
    return f"warning: run '{run.label}' seed {run.seed} ({run.key}): {exc}; {action}"
