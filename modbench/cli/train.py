"""``modbench train``: train every run of a suite that the cache does not have yet."""

from __future__ import annotations

from modbench.bench.run import outcomes as run_outcomes
from modbench.cli.common import err, handle_errors, plain
from modbench.cli.options import TrainOptions, training_options
from modbench.cli.running import console_events, end_with_failures


@training_options
@handle_errors
def train(opts: TrainOptions) -> None:
    """Train the suite's runs (cached runs are skipped, interrupted ones resume)."""
    selection = opts.select()
    outcomes = run_outcomes(selection, opts.settings(), console_events(), launch=opts.launch(selection))
    for o in outcomes:
        err.print(plain(f"{o.status:>8}  {o.run.label} (seed {o.run.seed})  run {o.run.key}"), markup=False, highlight=False)
    end_with_failures(outcomes)
