"""Rich progress on stderr for the engine's events: runs, epochs, batches, loss and images/s.

The runs bar's remaining time comes from the epochs completed so far, per loss (``eta.py``);
the bars are cleared when training ends, and the command keeps a one-line summary
(``summary_line``). Suite text (labels) is escaped: it is never read as Rich markup
and its control characters never reach the terminal.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column

from modbench.engine.events import Observer
from modbench.identity import describe_numerics
from modbench.losses import resolve_loss
from modbench.render.eta import EpochTimes, PendingRun, format_duration, remaining_seconds
from modbench.render.jobs_progress import JobsProgress
from modbench.render.safe_text import plain_lines as plain
from modbench.render.safe_text import rich_text


def safe_label(text) -> str:
    """Suite text for a Rich markup context: escape sequences and control characters removed,
    on one line, markup brackets escaped (the render layer's one rule for Rich)."""
    return rich_text(text)


def loss_family(loss: str, references=None) -> str:
    """The loss's family (softmax / embedding) from the registry; the name itself when unknown.
    ``references``: the run's plugin references (``RunSpec.references``)."""
    try:
        return resolve_loss(loss, references).family
    except Exception:  # noqa: BLE001 - an estimate must never stop training
        return loss


class StderrObserver(Observer):
    """No progress bars; notices and warnings of the engine as lines on ``console`` (stderr)."""

    def __init__(self, console):
        self.console = console

    def message(self, text: str) -> None:
        self.console.print(plain(text), markup=False, highlight=False)


class RichObserver(Observer):
    def __init__(self, total_runs: int | None = None, console=None, *, runs=None, clock=time.monotonic):
        """``console``: the Rich console to draw on (stderr; a new one when None)."""
        """``runs``: the runs about to be trained or read (RunSpecs), for the remaining time;
        ``total_runs`` alone still draws the bars (the estimate then counts no pending epochs)."""
        console = console or Console(stderr=True)
        runs = list(runs or [])
        total = len(runs) if runs else (total_runs or 0)
        # The counters, times and the estimate never wrap and come first; the information text
        # (label, loss, validation metrics) takes what is left of the line and is cut with an
        # ellipsis, so that an 80-column terminal keeps "12/30" whole.
        whole = dict(table_column=Column(no_wrap=True))
        self.progress = Progress(
            TextColumn("{task.description}", **whole),
            BarColumn(bar_width=10),
            MofNCompleteColumn(**whole),
            TimeElapsedColumn(**whole),
            TextColumn("{task.fields[eta]}", **whole),
            TextColumn("{task.fields[info]}", table_column=Column(no_wrap=True, overflow="ellipsis", min_width=1, ratio=1)),
            console=console,
            expand=True,
            # Cleared at the end on a terminal (the one-line summary and the tables follow); a log
            # file keeps the bars' final state, printed once.
            transient=console.is_terminal,
            refresh_per_second=2,  # each refresh renders every bar (~2 ms): keep it off the training loop's back
        )
        self.clock = clock
        self.numerics = ""  # ", cpu float32, 2 CPU thread(s)": what the run on screen trains with
        self.times = EpochTimes()
        self.pending: dict[str, PendingRun] = {
            r.key: PendingRun(r.loss, loss_family(r.loss, getattr(r, "references", None)), float(r.config["train"]["epochs"]))
            for r in runs
        }
        self.runs = self.progress.add_task("runs", total=total, info="", eta="")
        self.epochs = None
        self.batches = None
        self.current = None  # (key, epochs left at the start of the current epoch)
        self.steps_per_epoch = 1
        self.started = None

    def __enter__(self):
        self.started = self.clock()
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    @property
    def elapsed(self) -> float | None:
        return None if self.started is None else self.clock() - self.started

    # -- the estimate ----------------------------------------------------------------------------
    def _update_eta(self) -> None:
        seconds = remaining_seconds(self.times, list(self.pending.values()))
        label = "estimating" if seconds is None else f"~{format_duration(seconds)} left"
        self.progress.update(self.runs, eta=label)

    # -- engine events ---------------------------------------------------------------------------
    def run_numerics(self, run, numerics):
        self.numerics = f", {describe_numerics(numerics)}"

    def run_start(self, run, *, start_epoch, epochs, steps_per_epoch):
        for task in (self.epochs, self.batches):
            if task is not None:
                self.progress.remove_task(task)
        resumed = f" (resumed at epoch {start_epoch + 1})" if start_epoch else ""
        self.progress.update(self.runs, info=f"{safe_label(run.label)}, seed {run.seed}{resumed}{rich_text(self.numerics)}")
        self.epochs = self.progress.add_task("  epochs", total=epochs, completed=start_epoch, info="", eta="")
        self.batches = self.progress.add_task("  batches", total=steps_per_epoch, info="", eta="")
        self.steps_per_epoch = max(1, steps_per_epoch)
        family = loss_family(run.loss, getattr(run, "references", None))
        pending = self.pending.setdefault(run.key, PendingRun(run.loss, family, float(epochs)))
        pending.epochs_left = float(epochs - start_epoch)
        self.current = (run, pending.epochs_left)
        self._update_eta()

    def batch_end(self, *, step, loss, images_per_s):
        if self.batches is not None:
            info = f"loss {loss:.4g}, {images_per_s:,.0f} img/s" if loss is not None else ""
            self.progress.update(self.batches, completed=step, info=info)
            if self.current is not None:  # the current epoch counts by the batches done
                run, left = self.current
                self.pending[run.key].epochs_left = max(0.0, left - step / self.steps_per_epoch)
                self._update_eta()

    def epoch_end(self, *, epoch, record):
        if self.epochs is not None:
            val = ", ".join(f"{k} {v:.3f}" for k, v in record.get("val", {}).items() if v == v)
            self.progress.update(self.epochs, completed=epoch, info=f"val {val}")
        if self.current is not None:
            run, left = self.current
            seconds = record.get("seconds")
            if isinstance(seconds, (int, float)):
                pending = self.pending[run.key]
                self.times.add(pending.loss, pending.family, float(seconds))
            self.current = (run, max(0.0, left - 1))
            self.pending[run.key].epochs_left = self.current[1]
        self._update_eta()

    def run_end(self, run, *, status):
        self.pending.pop(run.key, None)
        if self.current is not None and self.current[0].key == run.key:
            self.current = None
        self.progress.advance(self.runs)
        self._update_eta()

    def message(self, text: str) -> None:
        self.progress.console.print(plain(text), markup=False, highlight=False)


def summary_line(outcomes, seconds: float | None = None) -> str:
    """The one line that stays on stderr after training (the progress bars are cleared): how
    many runs were trained, cached, failed, and in how long."""
    words = {"trained": "trained", "cached": "from the cache", "failed": "failed", "error": "stopped by a job error"}
    counts = [(sum(o.status == s for o in outcomes), w) for s, w in words.items()]
    summary = ", ".join(f"{n} {w}" for n, w in counts if n)
    took = f", {format_duration(seconds)} in all" if seconds is not None and any(o.status == "trained" for o in outcomes) else ""
    return f"{len(outcomes)} run(s): {summary or 'none'}{took}"


class ConsoleEvents:
    """The application layer's events (every method of ``modbench.bench.events.Events``, which
    this layer does not import: it sits above the application layer) drawn on a Rich console
    (stderr): progress bars while runs train, one line per launched job, the summary line,
    warnings, notices. ``other_rank``: what a torchrun rank other than 0 does (the command line
    quiets its consoles)."""

    def __init__(self, console, *, other_rank=None):
        self.console = console
        self._other_rank = other_rank

    def notices(self) -> Observer:
        return StderrObserver(self.console)

    def training(self, runs):
        return RichObserver(console=self.console, runs=runs)

    def launching(self):
        return JobsProgress(self.console)

    def finished(self, outcomes, seconds):
        self.console.print(summary_line(outcomes, seconds), markup=False, highlight=False)

    def warning(self, text: str) -> None:
        self.console.print(f"warning: {plain(text)}", markup=False, highlight=False)

    def progress(self, line: str) -> None:
        self.console.print(plain(line), markup=False, highlight=False)

    def other_rank(self) -> None:
        if self._other_rank is not None:
            self._other_rank()
