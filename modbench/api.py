"""The Python API, for notebooks and scripts (docs/api.md)::

    import modbench
    rows = modbench.compare("digits", epochs=1, subset=10)       # list of dicts, as --json
    modbench.evaluate_embeddings(embeddings, labels, metrics=["nmi", "recall@1"])

Each function is the command of the same name without the printing: it calls the application
layer the command line calls (``modbench.bench``), so a suite is validated, cached and trained
exactly as ``modbench compare`` does it, in the same cache; progress and warnings go to stderr
as the command line draws them (``modbench.render.progress``). A
problem the command line reports with exit code 2 is raised here as ``modbench.errors.UserError``
(``SuiteError`` for a suite, ``UnknownNameError``, ``MetricError``: all subclasses); a failure
during a run as ``RunError``. A run whose loss turns non-finite is not an exception: its row says
``"status": "failed"`` (the command line exits 1 for it), and a warning goes to stderr.

A suite is a built-in name (``"digits"``), a path to a YAML file (str or ``pathlib.Path``), or a
dict with the keys of a suite file (relative data paths in it are relative to the current
directory). Importing this module imports no torch; the first training call does (the one
import inside a function, in ``evaluate_embeddings``, is the metrics', which import torch).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rich.console import Console

from modbench import __version__
from modbench.bench.compare import compare as run_compare
from modbench.bench.compare import compare_until_decided
from modbench.bench.report import Spelling, check_compare_options, check_report_options, read_report, report_summaries
from modbench.bench.run import RunSettings, failure_warnings
from modbench.bench.run import outcomes as run_outcomes
from modbench.bench.until_decided import MAX_SEEDS, STEP
from modbench.cache.store import RunStore, resolve_cache_root
from modbench.engine.device_names import check_device_name
from modbench.errors import UserError
from modbench.metrics import DEFAULT_METRICS, parse_metric_names
from modbench.render.progress import ConsoleEvents
from modbench.render.report import report_markdown
from modbench.render.rows import result_records, rows_text
from modbench.render.safe_text import plain_lines
from modbench.results.paper import load_paper
from modbench.results.verdicts_table import store_records
from modbench.suite.selection import select_runs

__all__ = ["compare", "train", "report", "evaluate_embeddings"]

FORMATS = ("json", "markdown", "csv")
# The options as the application layer's errors name them (bench/report.py: the checks the
# command line and this API share).
API_NAMES = Spelling(until_decided="until_decided=True", max_seeds="max_seeds", step="step", losses="losses",
                     suite="suite", seeds="seeds", force="force=True",
                     force_first="call compare(..., force=True) without until_decided first")


def _suite_ref(suite) -> str | dict:
    if isinstance(suite, Mapping):
        return dict(suite)
    if isinstance(suite, (str, os.PathLike)):
        return os.fspath(suite)
    if hasattr(suite, "model_dump"):  # a modbench.suite.schema.Suite
        return suite.model_dump(mode="json")
    raise UserError(f"suite must be a built-in name, a path to a YAML file or a dict, got {type(suite).__name__}")


def _listed(value, what: str, kind: type) -> list | None:
    """None, one value or an iterable of values -> None or a list (``losses="triplet"``)."""
    if value is None:
        return None
    items = [value] if isinstance(value, (str, int)) else list(value)
    for v in items:
        if not isinstance(v, kind) or isinstance(v, bool):
            raise UserError(f"{what}: expected {kind.__name__} values, got {v!r}")
    return items


def _check_options(*, seeds, epochs, subset, device=None, test_subset=None) -> None:
    """The bounds the command line's options carry (``--seed`` >= 0, ``--epochs`` >= 1,
    ``--subset`` >= 1, ``--device auto|cpu|cuda``), as UserError."""
    for name, value, low in (("epochs", epochs, 1), ("subset", subset, 1), ("test_subset", test_subset, 2)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
            raise UserError(f"{name} must be an integer >= {low}, got {value!r}")
    for s in seeds or ():
        if s < 0:
            raise UserError(f"seeds must be >= 0, got {s}")
    if device is not None:
        check_device_name(device)


def _plan(suite, losses, seeds, epochs, subset, test_subset=None, data_dir=None):
    losses = _listed(losses, "losses", str)
    seeds = _listed(seeds, "seeds", int)
    _check_options(seeds=seeds, epochs=epochs, subset=subset, test_subset=test_subset)
    return select_runs(_suite_ref(suite), losses=losses, seeds=seeds, epochs=epochs, subset=subset,
                       test_subset=test_subset, data_dir=data_dir)


def _settings(*, device, cache_dir, data_dir, download, force) -> RunSettings:
    if data_dir is None:  # as --data-dir: else $MODBENCH_DATA
        data_dir = os.environ.get("MODBENCH_DATA") or None
    return RunSettings(cache_dir=Path(cache_dir) if cache_dir is not None else None, device=device,
                       data_dir=Path(data_dir) if data_dir is not None else None, download=download, force=force)


def _events() -> ConsoleEvents:
    """Progress bars, the summary line and warnings on stderr, as the command line draws them."""
    return ConsoleEvents(Console(stderr=True))


def _warn_failures(outcomes) -> None:
    for line in failure_warnings(outcomes):  # the command line's warnings on stderr
        _warn(line)


def compare(
    suite,
    *,
    losses: str | Iterable[str] | None = None,
    seeds: int | Iterable[int] | None = None,
    epochs: int | None = None,
    subset: int | None = None,
    test_subset: int | None = None,
    device: str = "auto",
    cache_dir: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    force: bool = False,
    baseline: str | None = None,
    until_decided: bool = False,
    max_seeds: int | None = None,
    step: int | None = None,
) -> list[dict[str, Any]]:
    """Train what the cache lacks, evaluate, and return what ``modbench compare --json`` prints:
    one dict per run (suite, dataset, backbone, loss, label, seed, status, run, metrics), then
    one per loss setting aggregated over seeds (``"seed": None``), each other loss setting
    with its ``"verdict"`` against the baseline (the suite's ``verdict.baseline``, else
    ``baseline``, else its first loss) and its descriptive ``"secondary"`` contrasts.

    ``until_decided``: as ``compare --until-decided``: train ``step`` (default 1) more seeds of
    every undecided primary contrast per round, up to ``max_seeds`` (default 10), with the
    sequential rule; each verdict then has ``"decided_at_seeds"``."""
    _check_options(seeds=None, epochs=None, subset=None, device=device)
    check_compare_options(until_decided=until_decided, max_seeds=max_seeds, step=step, force=force, names=API_NAMES)
    p = _plan(suite, losses, seeds, epochs, subset, test_subset, data_dir)
    settings = _settings(device=device, cache_dir=cache_dir, data_dir=data_dir, download=download, force=force)
    if until_decided:
        result = compare_until_decided(
            p, _suite_ref(suite), settings, _events(),
            reselect=lambda chosen: _plan(suite, losses, chosen, epochs, subset, test_subset, data_dir),
            baseline=baseline, max_seeds=MAX_SEEDS if max_seeds is None else max_seeds,
            step=STEP if step is None else step,
        )
        _warn_failures(result.outcomes)
        return result_records(result.rows, summaries=result.summaries)
    result = run_compare(p, _suite_ref(suite), settings, _events(), baseline=baseline)
    _warn_failures(result.outcomes)
    return result_records(result.rows, baselines=result.baselines, written=result.written, records=result.records,
                          settings=result.settings)


def train(
    suite,
    *,
    losses: str | Iterable[str] | None = None,
    seeds: int | Iterable[int] | None = None,
    epochs: int | None = None,
    subset: int | None = None,
    test_subset: int | None = None,
    device: str = "auto",
    cache_dir: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    force: bool = False,
) -> list[dict[str, Any]]:
    """Train every run of the suite the cache lacks (``modbench train``); one dict per run:
    ``label``, ``loss``, ``seed``, ``run`` (the cache key) and ``status`` ("trained", "cached",
    "failed")."""
    _check_options(seeds=None, epochs=None, subset=None, device=device)
    p = _plan(suite, losses, seeds, epochs, subset, test_subset, data_dir)
    settings = _settings(device=device, cache_dir=cache_dir, data_dir=data_dir, download=download, force=force)
    outcomes = run_outcomes(p, settings, _events())
    _warn_failures(outcomes)
    return [{"label": o.run.label, "loss": o.run.loss, "seed": o.run.seed, "run": o.run.key,
             "status": o.status} for o in outcomes]


def report(
    suite=None,
    *,
    format: str = "json",  # noqa: A002 - the command line's word for it
    seeds: int | Iterable[int] | None = None,
    epochs: int | None = None,
    subset: int | None = None,
    test_subset: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    paper: bool = False,
    until_decided: bool = False,
    max_seeds: int | None = None,
    step: int | None = None,
    losses: str | Iterable[str] | None = None,
    baseline: str | None = None,
):
    """What the cache holds, never training (``modbench report``): ``format="json"`` gives the
    list of dicts of ``report --json``; ``"markdown"`` the self-contained Markdown report (a
    str); ``"csv"`` one line per run. ``suite``: one suite or a list of them (default: every
    built-in suite with a cached run).

    ``until_decided``: as ``report --until-decided``: the verdicts ``compare(suite,
    until_decided=True, max_seeds=..., step=..., losses=...)`` gave, its sequential rule replayed
    on the cached runs of the one ``suite`` (give the same ``max_seeds``, default 10, ``step``,
    default 1, and ``losses``). ``baseline``: as ``report --baseline``, the loss the verdicts
    compare the others with where a suite's ``verdict.baseline`` names none."""
    if format not in FORMATS:
        raise UserError(f"format {format!r}: choose {', '.join(FORMATS)}")
    if paper and format == "csv":
        raise UserError("paper works with json and markdown; the CSV holds measured runs only")
    refs = None if suite is None else suite if isinstance(suite, (list, tuple)) else [suite]
    check_report_options(until_decided=until_decided, suites=len(refs or []), max_seeds=max_seeds, step=step,
                         losses=losses is not None, seeds=seeds is not None, names=API_NAMES)
    seeds = _listed(seeds, "seeds", int)
    _check_options(seeds=seeds, epochs=epochs, subset=subset, test_subset=test_subset)
    store = RunStore(resolve_cache_root(Path(cache_dir) if cache_dir is not None else None))
    # What ``modbench report`` shows, through the same application-layer calls (bench/report.py).
    report = read_report(store, [_suite_ref(r) for r in refs] if refs else None, seeds=seeds, epochs=epochs,
                         subset=subset, test_subset=test_subset, until_decided=until_decided,
                         losses=_listed(losses, "losses", str), baseline=baseline, max_seeds=max_seeds, step=step,
                         warn=_warn, note=_warn)
    summaries = report_summaries(store, report, baseline=baseline, warn=_warn)
    model = report.model
    rows = model.rows
    paper_data = load_paper() if paper else None
    if format == "markdown":
        return report_markdown(summaries, paper=paper_data, version=__version__)
    if format == "json":
        return result_records(rows, paper=paper_data, written=model.written, settings=model.verdicts,
                              records=store_records(store), summaries=summaries)
    return rows_text(rows, format, paper=paper_data, written=model.written, settings=model.verdicts,
                     records=store_records(store), summaries=summaries)


def evaluate_embeddings(embeddings, labels, metrics: str | Iterable[str] | None = None,
                        **options) -> dict[str, float]:
    """The metrics of ``embeddings`` [N, D] (numpy array or torch tensor, any float type) with
    ``labels`` [N] (integers), as ``modbench eval --embeddings FILE --json`` prints them:
    ``{"nmi": ..., "recall@1": ...}``. ``metrics``: names (a list, or comma-separated), default
    the suite default. ``options`` go to ``modbench.metrics.compute_metrics`` (``normalize``,
    ``kmeans_seed``, ``kmeans_n_init``, ``device``, ``backend``, ``query_mask`` for a
    query/gallery split). Bad input (wrong shapes, NaN,
    non-integer labels, an unknown metric, a metric undefined on these labels) raises
    ``MetricError``, a UserError."""
    from modbench.metrics.compute import compute_metrics  # imports torch: not on ``import modbench``
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    names = parse_metric_names(list(metrics)) if metrics is not None else list(DEFAULT_METRICS)
    return dict(compute_metrics(embeddings, labels, names, strict=True, **options).values)


def _warn(message: str) -> None:
    """A warning line on stderr, as the command line writes it (suite text made plain)."""
    Console(stderr=True).print(f"warning: {plain_lines(message)}", markup=False, highlight=False)
