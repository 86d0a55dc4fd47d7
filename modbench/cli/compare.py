"""``modbench compare``: train what is missing, evaluate, print Tables 1 and 2."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from modbench.cli.common import JsonOpt, MarkdownOpt, handle_errors, one_output_format
from modbench.cli.options import TrainOptions, training_options


@training_options
@handle_errors
def compare(
    opts: TrainOptions,
    markdown: MarkdownOpt = False,
    json_: JsonOpt = False,
    baseline: Annotated[Optional[str], typer.Option("--baseline", show_default=False, help="Loss name or label to compare every other loss with: difference per metric and Welch's t-test over seeds (alpha 0.05).")] = None,
) -> None:
    """Train missing runs, then print the Table 1 (NMI, F1) and Table 2 (Recall@k) layouts."""
    from modbench.cli.output import emit, render_rows
    from modbench.cli.workflow import report_failures, train_or_answer
    from modbench.results.rows import rows_from_outcomes

    fmt = one_output_format(markdown=markdown, json=json_)
    selection = opts.select()
    baselines = None
    if baseline is not None:  # checked before any training
        from modbench.results.baseline import find_baseline

        name = selection.suite.name
        baselines = {name: find_baseline([(r.loss, r.label) for r in selection.runs], baseline, suite=name)}
    outcomes = train_or_answer(selection, opts, launch=opts.launch(selection))
    from modbench.results.deviations import per_loss_lr_note, written_suites  # to state the overrides on every table

    lines = []
    if selection.suite.tuned is not None:  # written by `modbench tune` (docs/tuning.md)
        from modbench.tune.tuned_suite import tuned_note

        lines.append(tuned_note(selection.suite.tuned))
    lr_note = per_loss_lr_note(selection.suite)
    if lr_note:
        lines.append(lr_note)
    notes = {selection.suite.name: lines} if lines else None

    from modbench.cli.output import cache_histories

    emit(render_rows(rows_from_outcomes(outcomes), fmt, baselines=baselines, notes=notes, written=written_suites([opts.suite]),
                     history_of=cache_histories(opts.cache_dir)))
    code = report_failures(outcomes)
    if code:
        raise typer.Exit(code)
