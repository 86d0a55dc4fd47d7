"""``modbench train``: train every run of a suite that the cache does not have yet."""

from __future__ import annotations

import typer

from modbench.cli.common import err, handle_errors, plain
from modbench.cli.options import TrainOptions, training_options


@training_options
@handle_errors
def train(opts: TrainOptions) -> None:
    """Train the suite's runs (cached runs are skipped, interrupted ones resume)."""
    from modbench.cli.workflow import report_failures, train_or_answer

    selection = opts.select()
    outcomes = train_or_answer(selection, opts, launch=opts.launch(selection))
    for o in outcomes:
        err.print(plain(f"{o.status:>8}  {o.run.label} (seed {o.run.seed})  run {o.run.key}"), markup=False, highlight=False)
    code = report_failures(outcomes)
    if code:
        raise typer.Exit(code)
