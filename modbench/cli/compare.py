"""``modbench compare``: train what is missing, evaluate, print Tables 1 and 2."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from modbench.cli.common import JsonOpt, MarkdownOpt, cli_names, handle_errors, one_output_format
from modbench.cli.options import TrainOptions, training_options

# The command's work (the application layer, modbench.bench, and what it imports) is imported
# when the command runs, so that `modbench --help` and shell completion load only Typer and
# Rich (tests/test_startup.py).


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
    from modbench.bench.compare import compare as run_compare
    from modbench.bench.compare import compare_until_decided
    from modbench.bench.report import check_compare_options
    from modbench.bench.until_decided import MAX_SEEDS, STEP
    from modbench.cli.output import cache_histories, emit, render_rows
    from modbench.cli.running import console_events, end_with_failures

    fmt = one_output_format(markdown=markdown, json=json_)
    check_compare_options(until_decided=until_decided, max_seeds=max_seeds, step=step, force=opts.force,
                          names=cli_names())
    selection = opts.select()
    if until_decided:
        result = compare_until_decided(
            selection, opts.suite, opts.settings(), console_events(), reselect=lambda seeds: opts.select(seeds),
            baseline=baseline, max_seeds=MAX_SEEDS if max_seeds is None else max_seeds, step=STEP if step is None else step,
            launch_of=opts.launch,
        )
        emit(render_rows(result.rows, fmt, summaries=result.summaries, decided_at=result.decided_at))
    else:
        result = run_compare(selection, opts.suite, opts.settings(), console_events(), baseline=baseline,
                             launch_of=opts.launch)
        emit(render_rows(result.rows, fmt, baselines=result.baselines, notes=result.notes, written=result.written,
                         records=result.records, settings=result.settings, history_of=cache_histories(opts.cache_dir)))
    end_with_failures(result.outcomes)
