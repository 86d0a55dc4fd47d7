"""``modbench report``: tables, plots and the Markdown report from the cache alone; never trains
or evaluates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from modbench.cli.common import (
    CacheDirOpt, CsvOpt, EpochsOpt, JsonOpt, SubsetOpt, complete_suite, err, fail, handle_errors, one_output_format, warn,
)


@handle_errors
def report(
    suite: Annotated[Optional[list[str]], typer.Option("--suite", "-s", help="Suite(s) to report \\[default: every built-in suite with a cached run].", autocompletion=complete_suite)] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="A self-contained Markdown report: tables, plots, protocol.")] = False,
    json_: JsonOpt = False,
    csv: CsvOpt = False,
    plots: Annotated[Optional[Path], typer.Option("--plots", help="Write PNG training curves to this folder \\[default: no plots].")] = None,
    paper: Annotated[bool, typer.Option("--paper", help="Show the paper's Table 1 and 2 numbers beside the matching measured rows.")] = False,
    baseline: Annotated[Optional[str], typer.Option("--baseline", help="Loss name or label to compare the others with (Welch's t-test over seeds, alpha 0.05) \\[default: no comparison].")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file instead of stdout \\[default: stdout].")] = None,
    seed: Annotated[Optional[list[int]], typer.Option("--seed", min=0, help="Only these seeds \\[default: the suite's and every other seed in the cache].")] = None,
    epochs: EpochsOpt = None,
    subset: SubsetOpt = None,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Print cached results; runs not done yet show as "—"."""
    from modbench.cache.store import RunStore, resolve_cache_root
    from modbench.cli.output import emit, render_rows
    from modbench.results.rows import rows_from_cache, with_cached_seeds
    from modbench.suite.loader import builtin_suite_names, load_suite
    from modbench.suite.runs import apply_overrides, resolve_runs

    fmt = one_output_format(markdown=markdown, json=json_, csv=csv)
    if paper and fmt == "csv":
        raise fail("--paper works with the tables, --markdown and --json; the CSV holds measured runs only")
    if plots is not None:
        from modbench.render.plots import require_matplotlib

        require_matplotlib()
        if plots.exists() and not plots.is_dir():
            raise fail(f"--plots {plots}: is a file, not a folder; give a folder for the PNG files")
    if output is not None and output.is_dir():
        raise fail(f"--output {output}: is a folder; give a file name, e.g. {output / 'report.md'}")
    store = RunStore(resolve_cache_root(cache_dir))
    explicit = bool(suite)
    rows, descriptions = [], {}
    for ref in suite or builtin_suite_names():
        s, source = load_suite(ref)
        s = apply_overrides(s, epochs=epochs, subset=subset, seeds=seed)
        runs = resolve_runs(s, source)
        if not seed:  # every seed the cache holds for the suite's settings
            runs = with_cached_seeds(store, runs)
        suite_rows = rows_from_cache(store, runs, warn=warn)
        from modbench.tune.report import trial_runs  # its tuning trials, apart (docs/tuning.md)

        suite_rows += rows_from_cache(store, trial_runs(store, s, source), warn=warn)
        if explicit or any(r.status != "missing" for r in suite_rows):
            rows += suite_rows
            descriptions[s.name] = s.description
    baselines = _baselines(rows, baseline) if baseline else None
    paper_data = None
    if paper:
        from modbench.results.paper import load_paper

        paper_data = load_paper()
    if not rows:
        err.print("no cached results; run `modbench compare --suite NAME` first", markup=False)
        if fmt == "json":
            emit("[]\n", output)
        elif paper_data is not None:
            _print_paper(paper_data, fmt, output)
        return
    plot_files = _write_plots(store, rows, plots) if plots is not None else {}
    if fmt == "markdown":
        from modbench import __version__
        from modbench.render.report import report_markdown
        from modbench.results.summary import summarize_rows

        summaries = summarize_rows(rows, descriptions=descriptions, baselines=baselines)
        text = report_markdown(
            summaries,
            plots=plot_files,
            link_base=output.parent if output is not None else Path.cwd(),
            paper=paper_data,
            version=__version__,
        )
    else:
        text = render_rows(rows, fmt, baselines=baselines, paper=paper_data)
        if paper_data is not None and fmt == "table" and not _any_paper_match(paper_data, rows):
            err.print("no reported suite has the paper's dataset, backbone and losses; the paper's tables:", markup=False)
            _print_paper(paper_data, fmt, None)
    emit(text, output)
    if output is not None:
        err.print(f"wrote {output}", markup=False, highlight=False)


def _baselines(rows, name: str) -> dict[str, str]:
    """Suite -> baseline label; exit 2 when no suite has ``name``, a warning for suites without."""
    from modbench.cli.common import warn
    from modbench.errors import UserError
    from modbench.results.baseline import find_baseline

    out, errors = {}, {}
    for suite in dict.fromkeys(r.suite for r in rows):
        settings = [(r.loss, r.label) for r in rows if r.suite == suite]
        try:
            out[suite] = find_baseline(settings, name, suite=suite)
        except UserError as exc:
            errors[suite] = exc
    if not out and errors:
        raise next(iter(errors.values()))
    for suite, exc in errors.items():
        warn(f"{exc}; suite '{suite}' is reported without a baseline comparison")
    return out


def _write_plots(store, rows, folder: Path) -> dict:
    """Suite -> the PlotFiles written for it under ``folder``."""
    from modbench.render.plots import write_plots
    from modbench.results.aggregate import groups_by_suite
    from modbench.results.curves import curve_metrics, metric_curves, read_histories

    from modbench.errors import UserError

    written = {}
    for suite, groups in groups_by_suite(rows).items():
        histories = read_histories(store, groups)
        curves = {m: metric_curves(groups, histories, m) for m in curve_metrics(histories)}
        try:
            written[suite] = write_plots(suite, curves, folder)
        except OSError as exc:
            raise UserError(f"--plots {folder}: cannot write there ({exc.strerror or exc}); give a writable folder") from None
    n = sum(len(files) for files in written.values())
    from modbench.tune.plots import write_tune_plots  # the tuning studies' figures (docs/tuning.md)

    n += len(write_tune_plots(store.root, folder))
    err.print(f"wrote {n} plot{'s' if n != 1 else ''} to {folder}", markup=False, highlight=False)
    return written


def _any_paper_match(paper, rows) -> bool:
    return any(paper.row_for_config(t, r.config) is not None for r in rows for t in paper.tables)


def _print_paper(paper, fmt: str, output: Path | None) -> None:
    from modbench.cli.common import out
    from modbench.render.layout import paper_tables

    tables = paper_tables(paper)
    if fmt == "markdown":
        from modbench.cli.output import emit
        from modbench.render.report import paper_markdown

        emit(paper_markdown(paper) + "\n", output)
        return
    from modbench.render.rich_tables import print_tables

    print_tables(out, tables)
