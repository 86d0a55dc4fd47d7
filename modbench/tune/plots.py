"""Figures of the tuning studies (``modbench report --plots DIR``), read from the study storage.

Per study (one loss): ``tune-<study>-history.png``, the best validation metric so far against
trial number (every complete trial as a dot); and for each searched parameter
``tune-<study>-<param>.png``, the trial's validation metric against the parameter's value (log
axis for log-uniform parameters), the form of the paper's Figures 1-4. Only complete trials have
a value; pruned ones are drawn at their last reported epoch's value, as open circles.
Matplotlib's Agg backend, no torch. Text from a suite (labels) goes into titles as plain text.
"""

from __future__ import annotations

import re
from pathlib import Path


def _file_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "study"


def study_plots(study, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.trial import TrialState

    from modbench.tune.study import PRUNER_FIELD

    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    pruned = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.PRUNED and t.intermediate_values]
    if not complete and not pruned:
        return []
    parts = study.study_name.split(" | ")
    title = f"{parts[1]} — {parts[0]}" if len(parts) >= 2 else study.study_name
    metric = parts[2] if len(parts) >= 3 else "value"
    stem = _file_part(f"{parts[0]}-{parts[1]}" if len(parts) >= 2 else study.study_name)
    # Studies of one loss that differ in metric or pruner (a `--pruner none` check beside the
    # default study) get their own files; the default study keeps the short name.
    pruner = study.study_name.rsplit(PRUNER_FIELD, 1)[1] if PRUNER_FIELD in study.study_name else "asha"
    stem += "".join(f"-{_file_part(x)}" for x, default in ((metric, "map@r"), (f"pruner-{pruner}", "pruner-asha")) if x != default)
    title += "" if pruner == "asha" else f" (pruner {pruner})"
    folder.mkdir(parents=True, exist_ok=True)
    written = []

    fig, ax = plt.subplots(figsize=(5, 3.5))
    numbers = [t.number for t in complete]
    values = [t.value for t in complete]
    best, running = [], float("-inf")
    for v in values:
        running = max(running, v)
        best.append(running)
    ax.plot(numbers, values, "o", alpha=0.5, label="complete trial")
    ax.step(numbers, best, where="post", label="best so far")
    if pruned:
        ax.plot([t.number for t in pruned], [t.intermediate_values[max(t.intermediate_values)] for t in pruned],
                "o", mfc="none", alpha=0.5, label="pruned (last epoch reported)")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # trial numbers are whole
    written.append(_finish(fig, ax, "trial number", f"validation {metric}", title, folder / f"tune-{stem}-history.png"))

    params = sorted({p for t in complete + pruned for p in t.params})
    for param in params:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        xs = [t.params[param] for t in complete if param in t.params]
        ys = [t.value for t in complete if param in t.params]
        ax.plot(xs, ys, "o", label="complete trial")
        px = [t.params[param] for t in pruned if param in t.params]
        py = [t.intermediate_values[max(t.intermediate_values)] for t in pruned if param in t.params]
        if px:
            ax.plot(px, py, "o", mfc="none", label="pruned")
        dist = next((t.distributions[param] for t in complete + pruned if param in t.distributions), None)
        if getattr(dist, "log", False):
            ax.set_xscale("log")
        written.append(_finish(fig, ax, param, f"validation {metric}", title, folder / f"tune-{stem}-{_file_part(param)}.png"))
    return written


def _finish(fig, ax, xlabel: str, ylabel: str, title: str, path: Path) -> Path:
    """Labels, title and legend of one figure, written to ``path`` and closed."""
    import matplotlib.pyplot as plt

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_tune_plots(cache_root: Path, folder: Path) -> list[Path]:
    """The figures of every study in ``<cache>/tune/*.db``."""
    files = sorted(Path(cache_root, "tune").glob("*.db"))
    if not files:
        return []
    import optuna

    from modbench.tune.study import quiet_optuna

    quiet_optuna()
    written = []
    for db in files:
        url = f"sqlite:///{db}"
        for summary in optuna.get_all_study_summaries(storage=url):
            written += study_plots(optuna.load_study(study_name=summary.study_name, storage=url), Path(folder))
    return written
