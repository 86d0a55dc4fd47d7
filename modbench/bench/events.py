"""What the application layer tells its caller while it works, as method calls on an ``Events``.

The application layer (``modbench.bench``) never prints: the command line and the Python API
each pass an ``Events`` that draws the progress (``modbench.render.progress.ConsoleEvents``:
Rich bars and lines on stderr). This base class does nothing, for callers that want no output.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from modbench.engine.events import Observer
from modbench.launch.events import LaunchObserver


class Events:
    """No-op base class; override what you need."""

    def notices(self) -> Observer:
        """The engine's observer outside a progress display: its one-line notices (a corrupted
        cache entry, a run another process holds) while data loads or cached runs are read."""
        return Observer()

    def training(self, runs: list) -> AbstractContextManager[Observer]:
        """The progress display while ``runs`` (RunSpecs) train in this process."""
        return nullcontext(Observer())

    def launching(self) -> AbstractContextManager[LaunchObserver]:
        """The progress display while launched jobs train (``--jobs``, ``--launcher``)."""
        return nullcontext(LaunchObserver())

    def finished(self, outcomes: list, seconds: float | None) -> None:
        """Every run of a selection has its outcome; ``seconds``: how long the training took
        (None when nothing trained in this process)."""

    def warning(self, text: str) -> None:
        """A problem the user should see that does not stop the command (one line)."""

    def progress(self, line: str) -> None:
        """One line of progress between steps (``compare --until-decided``: one per round)."""

    def other_rank(self) -> None:
        """Under torchrun, this process is not rank 0: only rank 0 shows results and progress."""
