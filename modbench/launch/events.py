"""Progress callbacks of a launcher. The launcher calls them from the parent process; the command
line draws them (one Rich line per job on stderr). The base class does nothing."""

from __future__ import annotations

from typing import Any


class LaunchObserver:
    def launched(self, *, total: int, slots: list[str]) -> None:
        """``total`` runs to train on ``slots`` (one name per job line: a device, a SLURM job)."""

    def job_start(self, slot: int, run: Any, *, start_epoch: int, epochs: int) -> None: ...

    def job_update(self, slot: int, *, epochs_done: float | None = None, info: str = "") -> None: ...

    def job_end(self, slot: int | None, run: Any, *, status: str) -> None:
        """``slot`` is None when the run ended before it started (e.g. its data failed to load)."""

    def message(self, text: str) -> None:
        """A one-line notice for the user (stderr)."""
