"""Rich progress on stderr for the engine's events: runs, epochs, batches, loss and images/s."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from modbench.cli.common import err
from modbench.render.safe_text import rich_text
from modbench.engine.events import Observer


class StderrObserver(Observer):
    """No progress bars; notices and warnings of the engine as lines on stderr (``eval``)."""

    def message(self, text: str) -> None:
        err.print(text, markup=False, highlight=False)


class RichObserver(Observer):
    def __init__(self, total_runs: int, console=None):
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console or err,
            transient=False,
            refresh_per_second=2,  # each refresh renders every bar (~2 ms): keep it off the training loop's back
        )
        self.runs = self.progress.add_task("runs", total=total_runs, info="")
        self.epochs = None
        self.batches = None
        self.numerics = ""

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def run_numerics(self, run, numerics):
        from modbench.identity import describe_numerics

        self.numerics = f", {describe_numerics(numerics)}"

    def run_start(self, run, *, start_epoch, epochs, steps_per_epoch):
        for task in (self.epochs, self.batches):
            if task is not None:
                self.progress.remove_task(task)
        resumed = f" (resumed at epoch {start_epoch + 1})" if start_epoch else ""
        self.progress.update(self.runs, info=rich_text(f"{run.label}, seed {run.seed}{resumed}{self.numerics}"))  # a label is data, not markup
        self.epochs = self.progress.add_task("  epochs", total=epochs, completed=start_epoch, info="")
        self.batches = self.progress.add_task("  batches", total=steps_per_epoch, info="")

    def batch_end(self, *, step, loss, images_per_s):
        if self.batches is not None:
            info = f"loss {loss:.4g}, {images_per_s:,.0f} img/s" if loss is not None else ""
            self.progress.update(self.batches, completed=step, info=info)

    def epoch_end(self, *, epoch, record):
        if self.epochs is not None:
            val = ", ".join(f"{k} {v:.3f}" for k, v in record.get("val", {}).items() if v == v)
            self.progress.update(self.epochs, completed=epoch, info=f"val {val}")

    def run_end(self, run, *, status):
        self.progress.advance(self.runs)

    def message(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False)
