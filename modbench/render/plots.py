"""PNG plots of the training curves (the paper's Figures 1-4 and 6-9), with matplotlib.

One figure per suite and metric: the metric against the epoch, one line per loss setting (for a
sweep suite, one line per parameter value). With several seeds the line is the mean over seeds
and the shaded band spans the minimum to the maximum over seeds.

matplotlib is optional (``pip install modbench[plots]``) and imported only here, inside the
functions. Figures are built with ``matplotlib.figure.Figure`` and the Agg canvas directly:
no pyplot, no global state, never a window.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

from modbench.cache.atomic import write_user_file
from modbench.errors import UserError
from modbench.render.file_names import name_part, readable_part
from modbench.render.names import metric_title
from modbench.render.safe_text import plot_text
from modbench.results.curves import TRAIN_LOSS, Curve

# Imports inside functions here: matplotlib is optional (pip install modbench[plots]): imported
# when plots are written.

BAND = "min-max over seeds"
INSTALL_HINT = "pip install modbench[plots]"


def require_matplotlib() -> None:
    """A one-line UserError (exit 2) when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UserError(f"--plots needs matplotlib, which is not installed; run: {INSTALL_HINT}") from None


def plot_filename(suite: str, metric: str) -> str:
    """``<suite>-<metric>.png`` with anything but letters, digits, '.', '_' and '-' replaced by '_'
    (``recall@1`` -> ``recall_1``), so the same suite and metric always give the same file. A
    suite name that needed a change, or is long, gets a short hash of itself
    (``file_names.name_part``): two suites never share a figure."""
    return f"{name_part(suite, 80)}-{readable_part(metric)}.png"


def axis_label(metric: str) -> str:
    return "training loss (mean per batch)" if metric == TRAIN_LOSS else f"validation {metric_title(metric)}"


def metric_figure(curves: list[Curve], *, suite: str, metric: str):
    """The matplotlib Figure of ``metric`` against the epoch: one line per curve (its mean over
    seeds), a min-max band where a curve has several seeds."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 4.5), dpi=100)
    ax = fig.add_subplot()
    banded = False
    for curve in curves:
        marker = "o" if len(curve.epochs) <= 15 else None
        (line,) = ax.plot(curve.epochs, curve.mean, marker=marker, markersize=3, linewidth=1.5, label=plot_text(curve.label))
        if curve.n_seeds > 1:
            ax.fill_between(curve.epochs, curve.low, curve.high, color=line.get_color(), alpha=0.2, linewidth=0)
            banded = True
    title = f"{suite}: {'training loss' if metric == TRAIN_LOSS else 'validation ' + metric_title(metric)}"
    ax.set_title(plot_text(title))
    ax.set_xlabel("epoch")
    ax.set_ylabel(axis_label(metric))
    ax.grid(True, alpha=0.3)
    if curves:
        ax.legend(fontsize="small", title="line: mean over seeds" if banded else None, title_fontsize="small")
    notes = []
    if banded:
        notes.append(f"band: {BAND}")
    if metric == TRAIN_LOSS:
        notes.append("each loss on its own scale")
    if notes:
        fig.text(0.99, 0.01, "; ".join(notes), ha="right", va="bottom", fontsize="x-small", alpha=0.7)
    values = [v for c in curves for v in (*c.low, *c.high) if not math.isnan(v)]
    if metric == TRAIN_LOSS and values and min(values) > 0:
        ax.set_yscale("log")  # losses of different families differ by orders of magnitude
    epochs = sorted({e for c in curves for e in c.epochs})
    if epochs and len(epochs) <= 15:
        ax.set_xticks(epochs)
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class PlotFile:
    suite: str
    metric: str
    path: Path
    lines: int  # number of curves drawn
    banded: bool


def save_figure(fig, path: Path) -> None:
    """PNG written atomically (a temporary file, then renamed), so a rerun replaces the file; a
    symbolic link in its place is written through, never replaced (``write_user_file``)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    write_user_file(Path(path), buffer.getvalue())


def write_plots(suite: str, curves_by_metric: dict[str, list[Curve]], out_dir: Path) -> list[PlotFile]:
    """One PNG per metric under ``out_dir`` (created); metrics without any curve are skipped."""
    require_matplotlib()
    files = []
    for metric, curves in curves_by_metric.items():
        if not any(any(not math.isnan(v) for v in c.mean) for c in curves):
            continue
        fig = metric_figure(curves, suite=suite, metric=metric)
        path = Path(out_dir) / plot_filename(suite, metric)
        save_figure(fig, path)
        files.append(PlotFile(suite, metric, path, len(curves), any(c.n_seeds > 1 for c in curves)))
    return files
