"""Rich progress on stderr for launched runs: a bar of finished runs and one line per job."""

from __future__ import annotations

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from modbench.launch.events import LaunchObserver
from modbench.render.safe_text import plain_lines
from modbench.render.safe_text import rich_text as escape  # markup escaped, control characters stripped


class JobsProgress(LaunchObserver):
    def __init__(self, console):
        """``console``: the Rich console to draw on (stderr)."""
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[count]}"),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=console,
            transient=console.is_terminal,  # cleared on a terminal; a log keeps the final state of each job
        )
        self.runs = None
        self.names: list[str] = []
        self.lines: dict[int, int] = {}

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def launched(self, *, total, slots):
        self.names = list(slots)
        self.runs = self.progress.add_task("runs", total=total, count=f"0/{total}", info="")
        for slot, name in enumerate(self.names):
            self.lines[slot] = self.progress.add_task(f"  {escape(name)}", total=None, count="", info="waiting")

    def job_start(self, slot, run, *, start_epoch, epochs):
        resumed = f", resumed at {start_epoch}" if start_epoch else ""
        self.progress.reset(
            self.lines[slot], total=epochs, completed=start_epoch,
            description=escape(f"  {self.names[slot]} {run.label}, seed {run.seed}{resumed}"),
            count=f"{start_epoch}/{epochs} epochs", info="",
        )

    def job_update(self, slot, *, epochs_done=None, info=""):
        task = self.lines[slot]
        fields = {"info": escape(info)}
        if epochs_done is not None:
            total = self._task(task).total
            fields["completed"] = epochs_done
            fields["count"] = f"{int(epochs_done)}/{total:.0f} epochs" if total else ""
        self.progress.update(task, **fields)

    def job_end(self, slot, run, *, status):
        if self.runs is not None:
            self.progress.advance(self.runs)
            runs = self._task(self.runs)
            self.progress.update(self.runs, count=f"{int(runs.completed)}/{runs.total:.0f}")
        if slot is not None:
            self.progress.update(self.lines[slot], info=status)

    def _task(self, task_id):
        return next(t for t in self.progress.tasks if t.id == task_id)

    def message(self, text):
        self.progress.console.print(plain_lines(text), markup=False, highlight=False)
