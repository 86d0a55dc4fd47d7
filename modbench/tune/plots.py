"""Figures of the tuning studies (``modbench report --plots DIR``), read from the study storage.

Per study (one loss): ``tune-<study>-history.png``, the best validation metric so far against
trial number (every complete trial as a dot); and for each searched parameter
``tune-<study>-<param>.png``, where ``<study>`` is the suite, the loss label, the metric and the
pruner where they are not the defaults, and a short hash of the study's whole name and database
file (two studies never share a file: see ``render/file_names.py``); the trial's validation metric against the parameter's value (log
axis for log-uniform parameters), the form of the paper's Figures 1-4. Only complete trials have
a value; pruned ones are drawn at their last reported epoch's value, as open circles.
Matplotlib's Agg backend, no torch. Text from a suite (labels) goes into titles as plain text.

The study databases are opened read-only (SQLite ``mode=ro``): a report never writes to them. A
file in ``<cache>/tune/`` that cannot be read, or that holds no Optuna study, is skipped with one
line saying which and why; the other studies are still drawn.
"""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from modbench.cache.atomic import write_user_file
from modbench.render.file_names import digest8, name_part, readable_part
from modbench.tune.study import PRUNER_FIELD, quiet_optuna

# Imports inside functions here: matplotlib (optional) and optuna are imported when a study's
# figures are written.


def study_stem(study_name: str, source: str = "") -> str:
    """``<suite>-<label>[-<metric>][-pruner-<name>]-<hash>``: readable parts (each cut to 40
    characters, other characters as ``_``) and a hash of the study's whole name and of
    ``source`` (its database file), which alone keeps two studies' names apart."""
    parts = study_name.split(" | ")
    pruner = study_name.rsplit(PRUNER_FIELD, 1)[1] if PRUNER_FIELD in study_name else "asha"
    readable = parts[:2] if len(parts) >= 2 else [study_name]
    metric = parts[2] if len(parts) >= 3 else "map@r"
    readable += [x for x, default in ((metric, "map@r"), (f"pruner-{pruner}", "pruner-asha")) if x != default]
    return "-".join(readable_part(x)[:40] for x in readable) + "-" + digest8(f"{source}\0{study_name}")


def study_plots(study, folder: Path, source: str = "") -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.trial import TrialState


    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    pruned = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.PRUNED and t.intermediate_values]
    if not complete and not pruned:
        return []
    parts = study.study_name.split(" | ")
    title = f"{parts[1]} — {parts[0]}" if len(parts) >= 2 else study.study_name
    metric = parts[2] if len(parts) >= 3 else "value"
    stem = study_stem(study.study_name, source)
    pruner = study.study_name.rsplit(PRUNER_FIELD, 1)[1] if PRUNER_FIELD in study.study_name else "asha"
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
        written.append(_finish(fig, ax, param, f"validation {metric}", title, folder / f"tune-{stem}-{name_part(param, 40)}.png"))
    return written


def _finish(fig, ax, xlabel: str, ylabel: str, title: str, path: Path) -> Path:
    """Labels, title and legend of one figure, written to ``path`` (atomically; a symbolic link
    there is written through) and closed."""
    import matplotlib.pyplot as plt


    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    write_user_file(path, buffer.getvalue())
    return path


def _readonly_url(db: Path) -> str:
    """SQLAlchemy's URL of ``db`` opened read-only: SQLite's URI form (``mode=ro``), so that
    nothing, not even Optuna's table creation, can write to a database a report finds."""
    return f"sqlite:///file:{quote(str(db.resolve()))}?mode=ro&uri=true"


def _not_a_study(db: Path) -> str | None:
    """Why ``db`` cannot be drawn (one phrase), or None when it holds Optuna's tables. Read with
    the standard library, read-only."""
    if not db.is_file():
        return "not a regular file"
    try:
        con = sqlite3.connect(f"file:{quote(str(db.resolve()))}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in con.execute("select name from sqlite_master where type = 'table'")}
        finally:
            con.close()
    except sqlite3.Error as exc:
        return f"cannot be read ({str(exc)[:120] or type(exc).__name__})"
    if not {"studies", "trials"} <= tables:
        return "not an Optuna study database"
    return None


def write_tune_plots(cache_root: Path, folder: Path, skipped: Callable[[str], None] | None = None) -> list[Path]:
    """The figures of every study in ``<cache>/tune/*.db``, each file once. A database that
    cannot be read or holds no study is left alone and named in one line to ``skipped``."""
    files = sorted(Path(cache_root, "tune").glob("*.db"))
    if not files:
        return []
    import optuna


    quiet_optuna()
    written: list[Path] = []
    for db in files:
        why = _not_a_study(db)
        if why is None:
            try:
                url = _readonly_url(db)
                storage = optuna.storages.RDBStorage(url)
                for summary in optuna.get_all_study_summaries(storage=storage):
                    written += study_plots(optuna.load_study(study_name=summary.study_name, storage=storage),
                                           Path(folder), source=db.name)
            except Exception as exc:  # noqa: BLE001 - SQLAlchemy's and Optuna's errors of a damaged file
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                why = f"cannot be read ({first[:120]})"
        if why is not None and skipped is not None:
            skipped(f"{db}: {why}; its studies are not drawn")
    return list(dict.fromkeys(written))
