"""``compare``: train what the cache lacks, then the result rows and everything the verdicts
and notes under the tables need, as data (``Compared``). The command line renders it as tables,
Markdown or JSON; the Python API returns its JSON records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from modbench.bench.events import Events
from modbench.bench.run import RunSettings, outcomes
from modbench.bench.until_decided import check_until_decided, decided_summaries, run_until_decided
from modbench.cache.store import RunStore
from modbench.results.baseline import find_baseline
from modbench.results.deviations import per_loss_lr_note, written_suites
from modbench.results.rows import rows_from_outcomes
from modbench.results.verdicts_table import VerdictSettings, store_records
from modbench.suite.selection import RunSelection
from modbench.tune.tuned_suite import tuned_note


@dataclass
class Compared:
    """What ``compare`` found: the outcomes and rows of its runs and the inputs of the verdicts
    (the keywords of ``render.rows``)."""

    outcomes: list
    rows: list  # results.rows.Row, one per run
    written: dict[str, dict[str, Any]]  # suite name -> its sections as written (the overrides)
    records: Callable  # run key -> its per-query records
    settings: dict  # suite name -> VerdictSettings
    baselines: dict[str, str] | None = None  # suite name -> the baseline label asked for
    notes: dict[str, list[str]] | None = None  # suite name -> lines under its tables
    summaries: list | None = None  # with until_decided: the summaries with the sequential verdicts
    decided_at: dict[str, int] | None = None  # with until_decided: label -> seeds its contrast needed


def compare(selection: RunSelection, suite_ref, settings: RunSettings, events: Events, *,
            baseline: str | None = None, launch_of: Callable | None = None) -> Compared:
    """Train the selection's missing runs (``run.outcomes``) and gather its results.
    ``suite_ref``: the suite as the user named it (for its sections as written);
    ``baseline``: the loss name or label to compare with where the suite names none, checked
    before anything trains (a UserError); ``launch_of(selection)``: its LaunchOptions, asked for
    after that check (None: train in this process)."""
    name = selection.suite.name
    baselines = None
    if baseline is not None:
        baselines = {name: find_baseline([(r.loss, r.label) for r in selection.runs], baseline, suite=name)}
    done = outcomes(selection, settings, events, launch=launch_of(selection) if launch_of else None)
    lines = []
    if selection.suite.tuned is not None:  # written by `modbench tune` (docs/tuning.md)
        lines.append(tuned_note(selection.suite.tuned, selection.source))
    lr_note = per_loss_lr_note(selection.suite)
    if lr_note:
        lines.append(lr_note)
    return Compared(
        outcomes=done, rows=rows_from_outcomes(done), written=written_suites([suite_ref], settings.data_dir),
        records=store_records(RunStore(settings.cache_root)),
        settings={name: VerdictSettings.of(selection.suite.verdict)}, baselines=baselines,
        notes={name: lines} if lines else None,
    )


def compare_until_decided(selection: RunSelection, suite_ref, settings: RunSettings, events: Events, *,
                          reselect: Callable[[list[int]], RunSelection], baseline: str | None, max_seeds: int,
                          step: int, launch_of: Callable | None = None) -> Compared:
    """``compare --until-decided`` (``until_decided.py``): rounds of seeds, one
    ``events.progress`` line each, then the rows with the sequential verdicts.
    ``reselect(seeds)``: the suite's selection for those seeds; ``launch_of(selection)``: its
    LaunchOptions (None: train in this process)."""
    check_until_decided(selection, baseline_name=baseline, max_seeds=max_seeds, step=step)  # before training
    records = store_records(RunStore(settings.cache_root))
    result = run_until_decided(
        selection, reselect=reselect,
        train=lambda sel: outcomes(sel, settings, events, launch=launch_of(sel) if launch_of else None),
        records=records, baseline_name=baseline, max_seeds=max_seeds, step=step, progress=events.progress,
    )
    verdicts = {selection.suite.name: VerdictSettings.of(selection.suite.verdict)}
    rows = rows_from_outcomes(result.outcomes)
    written = written_suites([suite_ref], settings.data_dir)
    summaries, decided_at = decided_summaries(result, rows, settings=verdicts, records=records, written=written)
    return Compared(outcomes=result.outcomes, rows=rows, written=written, records=records, settings=verdicts,
                    summaries=summaries, decided_at=decided_at)
