"""The runs bar's remaining time, from the epochs every run has completed so far.

Rich's own estimate extrapolates the speed of one bar (runs finished per second): with one run
done out of six, cached runs counted as instant, or a slow triplet run after fast cross-entropy
ones, it is off by minutes. Here each run still to train costs its epochs
left times the mean seconds per epoch measured so far for the same loss, else for the same loss
family (softmax / embedding), else for any loss; nothing is guessed before the first epoch ends.
Pure: no clock, no Rich; the progress display feeds it (render/progress.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class EpochTimes:
    """Seconds of every completed epoch, by loss name and by loss family."""

    by_loss: dict[str, list[float]] = field(default_factory=dict)
    by_family: dict[str, list[float]] = field(default_factory=dict)
    every: list[float] = field(default_factory=list)

    def add(self, loss: str, family: str, seconds: float) -> None:
        if not seconds >= 0:  # NaN or negative: not a measurement
            return
        self.by_loss.setdefault(loss, []).append(seconds)
        self.by_family.setdefault(family, []).append(seconds)
        self.every.append(seconds)

    def per_epoch(self, loss: str, family: str) -> float | None:
        """Mean seconds per epoch for this loss, else its family, else any loss; None before any."""
        for times in (self.by_loss.get(loss), self.by_family.get(family), self.every):
            if times:
                return sum(times) / len(times)
        return None


@dataclass
class PendingRun:
    loss: str
    family: str
    epochs_left: float  # may be fractional for the run in progress (batches of the current epoch done)


def remaining_seconds(times: EpochTimes, pending: list[PendingRun]) -> float | None:
    """Seconds until every pending run is trained; None while no epoch has been timed."""
    total = 0.0
    for run in pending:
        if run.epochs_left <= 0:
            continue
        per_epoch = times.per_epoch(run.loss, run.family)
        if per_epoch is None:
            return None
        total += run.epochs_left * per_epoch
    return total


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-:--:--"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
