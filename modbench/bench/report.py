"""The report as ``modbench report`` and ``modbench.report()`` both make it: the options of
``--until-decided`` checked, the rows read from the cache with each suite's tuning trials under
a heading of their own, and the verdicts, the replayed sequential rule's or those of the runs as
a fixed sample. Both callers go through these functions, so that neither can show other rows or
other verdicts than the other; the printing (Rich tables, files, plots, hints) stays theirs.

Torch-free: the cache, the suite loader and the results only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from modbench.errors import UserError


@dataclass(frozen=True)
class Spelling:
    """How a caller names its options in an error: ``--max-seeds`` on the command line,
    ``max_seeds`` in Python. ``force_first``: what to do instead of forcing a sequential study."""

    until_decided: str
    max_seeds: str
    step: str
    losses: str
    suite: str
    seeds: str
    force: str
    force_first: str


def check_compare_options(*, until_decided: bool, max_seeds, step, force: bool, names: Spelling) -> None:
    """A UserError when ``compare``'s options cannot go together (before anything trains)."""
    if not until_decided and (max_seeds is not None or step is not None):
        raise UserError(f"{names.max_seeds} and {names.step} work with {names.until_decided} only")
    if until_decided and force:
        raise UserError(f"{names.force} with {names.until_decided} would train every round's seeds again; "
                        f"{names.force_first}")


def check_report_options(*, until_decided: bool, suites: int, max_seeds, step, losses: bool, seeds: bool,
                         names: Spelling) -> None:
    """A UserError when ``report``'s options cannot go together; ``suites``: how many were given;
    ``losses``, ``seeds``: whether any were given."""
    if not until_decided and (max_seeds is not None or step is not None or losses):
        raise UserError(f"{names.max_seeds}, {names.step} and {names.losses} work with {names.until_decided} only")
    if until_decided and suites != 1:
        raise UserError(f"{names.until_decided} replays one suite's study: give exactly one {names.suite}")
    if until_decided and seeds:
        raise UserError(f"{names.seeds} with {names.until_decided}: the replay takes the seeds the looks took; "
                        f"leave {names.seeds} out")


@dataclass
class Report:
    """What the cache holds for a report (``results.report_model.ReportModel``), and, with
    ``until_decided``, the replayed study (``bench.replay.Replay``) whose verdicts replace the
    fixed-sample ones of its suite."""

    model: Any
    replayed: Any = None


def read_report(store, suite_refs: Sequence | None, *, seeds=None, epochs=None, subset=None, test_subset=None,
                until_decided: bool = False, losses=None, baseline: str | None = None, max_seeds: int | None = None,
                step: int | None = None, warn: Callable[[str], None] = lambda line: None,
                note: Callable[[str], None] = lambda line: None,
                progress: Callable[[str], None] = lambda line: None) -> Report:
    """The report's rows (``results.report_model.build_report``, with each suite's tuning
    trials: ``tune.report.trial_runs``) and, with ``until_decided``, the one suite's study
    replayed (``bench.replay.replay_report``). ``warn``: a line a row or the replay needs said;
    ``note``: each line on what the report or the replay left out (the report's before the
    replay starts); ``progress``: one line per replayed look. Options are checked by the caller
    (``check_report_options``)."""
    from modbench.results.report_model import build_report
    from modbench.tune.report import trial_runs  # a suite's tuning trials, apart (docs/tuning.md)

    model = build_report(store, list(suite_refs) if suite_refs else None, seeds=seeds, epochs=epochs, subset=subset,
                         test_subset=test_subset, warn=warn, more_runs=trial_runs)
    for line in model.left_out + model.notes:
        note(line)
    if not (until_decided and model.rows):
        return Report(model)
    from modbench.bench.replay import replay_report

    model, replayed = replay_report(store, model, suite_refs[0], losses=losses, epochs=epochs, subset=subset,
                                    test_subset=test_subset, baseline=baseline, max_seeds=max_seeds, step=step,
                                    progress=progress, warn=note)
    return Report(model, replayed)


def report_summaries(store, report: Report, *, baseline: str | None = None,
                     warn: Callable[[str], None] | None = None) -> list:
    """The per-suite summaries (tables' groups and verdicts) of the report's rows, its rows
    annotated with their deviations from the suites as written: the replayed suite with the
    sequential rule's verdicts, every other with the fixed-sample ones against ``baseline``
    where the suite's ``verdict.baseline`` names none."""
    from modbench.results.deviations import annotate
    from modbench.results.summary import summarize_rows
    from modbench.results.verdicts_table import store_records

    model = report.model
    annotate(model.rows, model.written)
    if report.replayed is not None:
        from modbench.bench.until_decided import decided_summaries

        summaries, _ = decided_summaries(report.replayed.result, model.rows, settings=model.verdicts,
                                         records=store_records(store), written=model.written,
                                         descriptions=model.descriptions, warn=warn, suite=report.replayed.suite)
        return summaries
    return summarize_rows(model.rows, descriptions=model.descriptions, baseline_name=baseline, warn=warn,
                          settings=model.verdicts, records=store_records(store))
