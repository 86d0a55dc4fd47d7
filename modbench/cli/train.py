"""``modbench train``: train every run of a suite that the cache does not have yet."""

from __future__ import annotations

from modbench.cli.common import err, handle_errors, plain
from modbench.cli.options import TrainOptions, training_options

# The command's work (the application layer, modbench.bench, and what it imports) is imported
# when the command runs, so that `modbench --help` and shell completion load only Typer and
# Rich (tests/test_startup.py).


@training_options
@handle_errors
def train(opts: TrainOptions) -> None:
    """Train the suite's runs (cached runs are skipped, interrupted ones resume)."""
    from modbench.bench.run import outcomes as run_outcomes
    from modbench.cli.running import console_events, end_with_failures

    selection = opts.select()
    outcomes = run_outcomes(selection, opts.settings(), console_events(), launch=opts.launch(selection))
    for o in outcomes:
        err.print(plain(f"{o.status:>8}  {o.run.label} (seed {o.run.seed})  run {o.run.key}"), markup=False, highlight=False)
    end_with_failures(outcomes)
