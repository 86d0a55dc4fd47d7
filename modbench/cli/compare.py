"""``modbench compare``: train what is missing, evaluate, print Tables 1 and 2."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from modbench.cli.common import JsonOpt, MarkdownOpt, handle_errors, one_output_format
from modbench.cli.options import TrainOptions, training_options


MAX_SEEDS = 10  # --until-decided's default budget per loss setting


@training_options
@handle_errors
def compare(
    opts: TrainOptions,
    markdown: MarkdownOpt = False,
    json_: JsonOpt = False,
    baseline: Annotated[Optional[str], typer.Option("--baseline", show_default=False, help="Loss name or label the verdicts compare every other loss with, where the suite's verdict.baseline names none \\[default: the suite's first loss].")] = None,
    until_decided: Annotated[bool, typer.Option("--until-decided", help="Train more seeds of every undecided primary contrast, round by round, until each is better, worse or equivalent or --max-seeds is spent (a sequential rule that keeps the family-wise error at alpha; docs/reporting.md).")] = False,
    max_seeds: Annotated[Optional[int], typer.Option("--max-seeds", min=1, show_default=False, help="With --until-decided: at most this many seeds per loss setting \\[default: 10].")] = None,
    step: Annotated[Optional[int], typer.Option("--step", min=1, show_default=False, help="With --until-decided: seeds added per round \\[default: 1].")] = None,
) -> None:
    """Train missing runs, then print the Table 1 (NMI, F1) and Table 2 (Recall@k) layouts."""
    from modbench.cli.output import emit, render_rows
    from modbench.cli.workflow import report_failures, train_or_answer
    from modbench.results.rows import rows_from_outcomes

    fmt = one_output_format(markdown=markdown, json=json_)
    if not until_decided and (max_seeds is not None or step is not None):
        from modbench.errors import UserError

        raise UserError("--max-seeds and --step work with --until-decided only")
    selection = opts.select()
    baselines = None
    if baseline is not None:  # checked before any training
        from modbench.results.baseline import find_baseline

        name = selection.suite.name
        baselines = {name: find_baseline([(r.loss, r.label) for r in selection.runs], baseline, suite=name)}
    if until_decided and opts.force:
        from modbench.errors import UserError

        raise UserError("--force with --until-decided would train every round's seeds again; run `modbench compare --force` first")
    if until_decided:
        _until_decided(opts, selection, fmt, baseline=baseline, max_seeds=MAX_SEEDS if max_seeds is None else max_seeds,
                       step=1 if step is None else step)
        return
    outcomes = train_or_answer(selection, opts, launch=opts.launch(selection))
    from modbench.results.deviations import per_loss_lr_note, written_suites  # to state the overrides on every table

    lines = []
    if selection.suite.tuned is not None:  # written by `modbench tune` (docs/tuning.md)
        from modbench.tune.tuned_suite import tuned_note

        lines.append(tuned_note(selection.suite.tuned, selection.source))
    lr_note = per_loss_lr_note(selection.suite)
    if lr_note:
        lines.append(lr_note)
    notes = {selection.suite.name: lines} if lines else None

    from modbench.cli.output import cache_histories
    from modbench.cache.store import RunStore, resolve_cache_root
    from modbench.results.verdicts_table import VerdictSettings, store_records

    store = RunStore(resolve_cache_root(opts.cache_dir))
    settings = {selection.suite.name: VerdictSettings.of(selection.suite.verdict)}
    emit(render_rows(rows_from_outcomes(outcomes), fmt, baselines=baselines, notes=notes, written=written_suites([opts.suite]),
                     records=store_records(store), settings=settings,
                     history_of=cache_histories(opts.cache_dir)))
    code = report_failures(outcomes)
    if code:
        raise typer.Exit(code)


def _until_decided(opts, selection, fmt: str, *, baseline, max_seeds: int, step: int) -> None:
    """``compare --until-decided`` (cli/until_decided.py): rounds of seeds, one progress line each
    on stderr, then the tables with the sequential verdicts."""
    from modbench.cache.store import RunStore, resolve_cache_root
    from modbench.cli.common import err
    from modbench.cli.output import emit, render_rows
    from modbench.cli.until_decided import check_until_decided, decided_summaries, run_until_decided
    from modbench.cli.workflow import report_failures, select_runs, train_or_answer
    from modbench.render.safe_text import plain_text
    from modbench.results.deviations import written_suites
    from modbench.results.rows import rows_from_outcomes
    from modbench.results.verdicts_table import VerdictSettings, store_records

    check_until_decided(selection, baseline_name=baseline, max_seeds=max_seeds, step=step)  # exit 2 before training
    store = RunStore(resolve_cache_root(opts.cache_dir))
    records = store_records(store)

    def reselect(seeds):
        return select_runs(opts.suite, losses=opts.loss, seeds=seeds, epochs=opts.epochs, subset=opts.subset,
                           test_subset=opts.test_subset, threads=opts.threads, data_dir=opts.data_dir)

    result = run_until_decided(
        selection, reselect=reselect, train=lambda sel: train_or_answer(sel, opts, launch=opts.launch(sel)),
        records=records, baseline_name=baseline, max_seeds=max_seeds, step=step,
        progress=lambda line: err.print(plain_text(line), markup=False, highlight=False),
    )
    settings = {selection.suite.name: VerdictSettings.of(selection.suite.verdict)}
    rows = rows_from_outcomes(result.outcomes)
    summaries, decided_at = decided_summaries(result, rows, settings=settings, records=records,
                                              written=written_suites([opts.suite]))
    emit(render_rows(rows, fmt, summaries=summaries, decided_at=decided_at))
    code = report_failures(result.outcomes)
    if code:
        raise typer.Exit(code)
