"""``report --until-decided``: a report's rows of one suite narrowed to the runs the sequential
rule of ``compare --until-decided`` looked at, with that rule replayed on them
(``until_decided.replay_until_decided``); nothing trains. Shared by the command line and the
Python API (``modbench.report(..., until_decided=True)``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from modbench.errors import UserError

@dataclass
class Replay:
    suite: str  # the suite's name, whose summaries get the replayed verdicts
    result: object  # until_decided.Replayed


def replay_report(store, model, ref, *, losses=None, epochs=None, subset=None, test_subset=None, baseline=None,
                  max_seeds: int | None = None, step: int | None = None,
                  progress: Callable[[str], None] = lambda line: None,
                  warn: Callable[[str], None] = lambda line: None):
    """(the report model with that suite's rows narrowed to the replayed looks' runs, Replay).
    ``progress``: one line per look; ``warn``: one line when the replay stops before the rule
    did, and when cached runs of other configurations than the one compare trains now are left
    out (``current_configuration``). A UserError (exit 2) when even the first look's runs are not
    all cached."""
    from modbench.bench.until_decided import MAX_SEEDS, STEP, replay_until_decided
    from modbench.results.verdicts_table import store_records
    from modbench.suite.selection import select_runs

    selection = select_runs(ref, losses=losses, epochs=epochs, subset=subset, test_subset=test_subset)
    name = selection.suite.name
    labels = set(r.label for r in selection.runs)
    mine, others = current_configuration(selection, [r for r in model.rows if r.suite == name and r.label in labels])
    if others:
        warn(f"{name}: the replay takes the runs of the configuration `compare --until-decided` trains now; "
             f"{others} cached run(s) of other configurations (other epochs, subset, threads or code) are left out "
             "(give the --epochs/--subset/--test-subset that compare was given, if it was)")
    result = replay_until_decided(
        selection, mine, baseline_name=baseline, max_seeds=MAX_SEEDS if max_seeds is None else max_seeds,
        step=STEP if step is None else step, records=store_records(store), progress=progress,
    )
    if result.decision is None:
        raise UserError(f"--until-decided: nothing to replay for {name}: {result.stopped}; "
                        "`modbench compare --until-decided` trains them")
    if result.stopped:
        warn(f"{name}: the replay stopped early, so its open contrasts show as undecided: {result.stopped} "
             "(`modbench compare --until-decided` trains them)")
    kept = {id(r) for r in result.rows}  # as compare --until-decided shows it: the runs its looks took
    rows = [r for r in model.rows if r.suite != name or id(r) in kept]
    return dataclasses.replace(model, rows=rows), Replay(suite=name, result=result)


def current_configuration(selection, rows) -> tuple[list, int]:
    """(the rows of the configuration each loss setting of ``selection`` resolves to now: the
    suite's settings with the overrides given, on this code; how many rows of other
    configurations were left out). ``compare --until-decided`` looks at that configuration's
    runs only, so its replay does too: after an upgrade or a run with ``--epochs``, the cache
    also holds runs of the same losses that compare would not take."""
    from modbench.results.aggregate import row_key

    now = {(r.label, row_key(r)) for r in selection.runs}  # a run spec's config, as a row's
    kept = [r for r in rows if (r.label, row_key(r)) in now]
    return kept, len(rows) - len(kept)
