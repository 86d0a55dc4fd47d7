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
    did. A UserError (exit 2) when the suite's runs are of several configurations per loss
    setting, or when even the first look's runs are not all cached."""
    from modbench.bench.until_decided import MAX_SEEDS, STEP, replay_until_decided
    from modbench.results.verdicts_table import store_records
    from modbench.results.aggregate import row_key
    from modbench.suite.selection import select_runs

    selection = select_runs(ref, losses=losses, epochs=epochs, subset=subset, test_subset=test_subset)
    name = selection.suite.name
    labels = set(r.label for r in selection.runs)
    mine = [r for r in model.rows if r.suite == name and r.label in labels]
    configurations: dict[str, set[str]] = {}
    for r in mine:
        if r.status in ("done", "failed"):
            configurations.setdefault(r.label, set()).add(row_key(r))
    several = sorted(label for label, c in configurations.items() if len(c) > 1)
    if several:
        raise UserError(
            f"--until-decided: the cache holds runs of {name} in more than one configuration for "
            f"{', '.join(several)} (other epochs, subset, threads or code); the replay needs the one compare "
            "--until-decided trained: narrow them with --epochs/--subset/--test-subset, or report from its own --cache-dir")
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
