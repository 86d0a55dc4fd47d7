"""``modbench report``: tables, plots and the Markdown report from the cache alone; never trains
or evaluates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from modbench.cli.common import (
    CacheDirOpt,
    CsvOpt,
    EpochsOpt,
    JsonOpt,
    SubsetOpt,
    TestSubsetOpt,
    cli_names,
    complete_suite,
    err,
    fail,
    handle_errors,
    one_output_format,
    out,
    warn,
)
from modbench.errors import UserError

# Imports inside functions here: the command's work (the application layer modbench.bench, the
# suite loader, the cache, the results with numpy and scipy, torch) is imported when the command
# runs, so that `modbench --help` and shell completion load only Typer and Rich
# (tests/test_startup.py).


@handle_errors
def report(
    suite: Annotated[Optional[list[str]], typer.Option("--suite", "-s", help="Suite(s) to report \\[default: every built-in suite with a cached run].", autocompletion=complete_suite)] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="A self-contained Markdown report: tables, plots, protocol.")] = False,
    json_: JsonOpt = False,
    csv: CsvOpt = False,
    plots: Annotated[Optional[Path], typer.Option("--plots", help="Write PNG training curves to this folder \\[default: no plots].")] = None,
    paper: Annotated[bool, typer.Option("--paper", help="Show the paper's Table 1 and 2 numbers beside the matching measured rows.")] = False,
    baseline: Annotated[Optional[str], typer.Option("--baseline", help="Loss name or label the verdicts compare the others with, where the suite's verdict.baseline names none \\[default: the suite's first loss].")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file instead of stdout (`-`: stdout; a symbolic link, device or FIFO is written through, never replaced) \\[default: stdout].")] = None,
    seed: Annotated[Optional[list[int]], typer.Option("--seed", min=0, help="Only these seeds \\[default: the suite's and every other seed in the cache].")] = None,
    until_decided: Annotated[bool, typer.Option("--until-decided", help="The verdicts `compare --until-decided` gave: replay its sequential rule on the cached runs of one --suite, with the --loss, --max-seeds and --step it was given (docs/reporting.md); trains nothing.")] = False,
    max_seeds: Annotated[Optional[int], typer.Option("--max-seeds", min=1, show_default=False, help="With --until-decided: the seed budget compare was given \\[default: 10, compare's].")] = None,
    step: Annotated[Optional[int], typer.Option("--step", min=1, show_default=False, help="With --until-decided: the seeds per round compare was given \\[default: 1].")] = None,
    loss: Annotated[Optional[list[str]], typer.Option("--loss", "-l", show_default=False, help="With --until-decided: the losses (names or labels) compare was given \\[default: all the suite's].")] = None,
    epochs: EpochsOpt = None,
    subset: SubsetOpt = None,
    test_subset: TestSubsetOpt = None,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Print cached results, every run in the cache unless filtered; runs not done yet show as "—"."""
    from modbench.cache.store import RunStore, resolve_cache_root
    from modbench.cli.output import emit, is_stdout, output_format, require_file_name
    from modbench.render.safe_text import plain_text

    if is_stdout(output):  # `--output -`: standard output
        output = None
    if output is not None:
        require_file_name(output, "--output", "report.md")
    fmt = output_format(one_output_format(markdown=markdown, json=json_, csv=csv), output)
    if paper and fmt == "csv":
        raise fail("--paper works with the tables, --markdown and --json; the CSV holds measured runs only")
    if plots is not None:
        from modbench.render.plots import require_matplotlib

        require_matplotlib()
        if plots.exists() and not plots.is_dir():
            raise fail(f"--plots {plots}: is a file, not a folder; give a folder for the PNG files")
    from modbench.bench.report import check_report_options, read_report

    check_report_options(until_decided=until_decided, suites=len(suite or []), max_seeds=max_seeds, step=step,
                         losses=bool(loss), seeds=bool(seed), names=cli_names())
    store = RunStore(resolve_cache_root(cache_dir))

    def say(line: str) -> None:
        err.print(plain_text(f"report: {line}"), markup=False, highlight=False)

    # The replay (--until-decided) needs the rows, which may be none: then nothing is replayed.
    report = read_report(store, suite, seeds=seed, epochs=epochs, subset=subset, test_subset=test_subset,
                         until_decided=until_decided, losses=loss, baseline=baseline, max_seeds=max_seeds, step=step,
                         warn=lambda m: warn(plain_text(m)), note=say, progress=say)
    model = report.model
    hints = [] if until_decided else _more_seeds_hints(model)  # printed once the report is out
    paper_data = None
    if paper:
        from modbench.results.paper import load_paper

        paper_data = load_paper()
    if not model.rows:
        err.print("no cached results; run `modbench compare --suite NAME` first", markup=False)
        text = "[]\n" if fmt == "json" else _paper_text(paper_data, fmt)
    else:
        text = _report_text(store, report, fmt, baseline=baseline, paper=paper_data, plots=plots, output=output)
    if emit(text, output):
        err.print(plain_text(f"wrote {output}"), markup=False, highlight=False)
    for line in hints:  # wrapped to the terminal: a hint, not a line for scripts to parse
        err.print(plain_text(f"report: {line}"), markup=False, highlight=False, soft_wrap=False)


def _report_text(store, report, fmt: str, *, baseline, paper, plots, output) -> str | None:
    """The text of the report in ``fmt`` (None: Rich tables, printed already); ``report``:
    ``bench.report.Report``, its replayed suite's verdicts the sequential rule's."""
    from modbench.bench.report import report_summaries
    from modbench.cli.output import render_rows
    from modbench.render.safe_text import plain_text

    model = report.model
    summaries = report_summaries(store, report, baseline=baseline, warn=lambda m: warn(plain_text(m)))
    plot_files = _write_plots(store, summaries, plots) if plots is not None else {}
    if fmt == "markdown":
        from modbench import __version__
        from modbench.render.report import report_markdown

        return report_markdown(
            summaries, plots=plot_files, link_base=output.parent if output is not None else Path.cwd(),
            paper=paper, version=__version__,
        )
    from modbench.cli.output import cache_histories

    text = render_rows(model.rows, fmt, paper=paper, summaries=summaries, history_of=cache_histories(store.root))
    if paper is not None and fmt == "table":
        from modbench.results.paper import matches_any

        if not matches_any(paper, model.rows):
            err.print("no reported suite has the paper's dataset, backbone and losses; the paper's tables:", markup=False)
            _paper_text(paper, fmt)
    return text


def _more_seeds_hints(model) -> list[str]:
    """One line per suite whose cached seeds go beyond those it lists (``compare --until-decided``
    adds seeds that way): its verdicts here are fixed-sample tests of every seed found, which
    ``report --until-decided`` replaces by the sequential rule's."""
    lines = []
    for name, written in model.written.items():
        listed = set(written.get("seeds") or [])
        extra = sorted({r.seed for r in model.rows if r.suite == name and r.status == "done"} - listed)
        if listed and extra and len({r.label for r in model.rows if r.suite == name}) > 1:
            shown = ", ".join(map(str, extra[:5])) + (", ..." if len(extra) > 5 else "")
            lines.append(f"{name}: the verdicts test seed{'s' if len(extra) > 1 else ''} {shown}, beyond the "
                         "suite's list, as a fixed sample; if `compare --until-decided` added them, "
                         f"`report --suite {name} --until-decided` (with its --max-seeds) replays its rule")
    return lines


def _write_plots(store, summaries, folder: Path) -> dict:
    """Section title -> the PlotFiles written for it under ``folder``; the tuning studies'
    figures too (a study database that cannot be read is skipped with one line). The count
    printed is of distinct files written."""
    from modbench.render.plots import write_plots
    from modbench.render.safe_text import plain_text
    from modbench.results.curves import section_curves

    written = {}
    for s in summaries:
        try:
            written[s.title] = write_plots(s.title, section_curves(store, s.groups), folder)
        except OSError as exc:
            raise UserError(f"--plots {folder}: cannot write there ({exc.strerror or exc}); give a writable folder") from None
    paths = {f.path for files in written.values() for f in files}
    from modbench.tune.plots import write_tune_plots  # the tuning studies' figures (docs/tuning.md)

    try:
        paths.update(write_tune_plots(store.root, folder, skipped=lambda line: warn(f"report --plots: skipped {line}")))
    except OSError as exc:
        raise UserError(f"--plots {folder}: cannot write there ({exc.strerror or exc}); give a writable folder") from None
    n = len(paths)
    err.print(plain_text(f"wrote {n} plot{'s' if n != 1 else ''} to {folder}"), markup=False, highlight=False)
    return written


def _paper_text(paper, fmt: str) -> str | None:
    """The paper's tables alone: Markdown text, or Rich tables printed now (None)."""
    if paper is None:
        return None
    if fmt == "markdown":
        from modbench.render.report import paper_markdown

        return paper_markdown(paper) + "\n"
    from modbench.render.layout import paper_tables
    from modbench.render.rich_tables import print_tables

    print_tables(out, paper_tables(paper))
    return None
