"""``compare --until-decided``: add seeds to the undecided primary contrasts, look, repeat.

Each round trains the next seeds of the baseline and of every loss setting whose primary contrast
is still undecided (``results.sequential``: alpha spending over the planned looks, Holm over the
contrasts), then looks again. Every seed is an ordinary cached run, so an interrupted command,
rerun, finds the runs it trained and replays the same decisions (the rule is a function of the
contrasts at every look). Called through ``compare.compare_until_decided``.

``report --until-decided`` replays the same looks on the cached runs alone
(``replay_until_decided``), so that a report of such a study gives the verdicts the rule gave, not
fixed-sample tests of the final seeds (which would ignore that the seeds were chosen by looking).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from modbench.errors import UserError
from modbench.results.aggregate import group_rows
from modbench.results.baseline import find_baseline
from modbench.results.deviations import annotate
from modbench.results.rows import rows_from_outcomes

MAX_SEEDS = 10  # the seed budget when none is given (compare and report --until-decided, the API)
STEP = 1  # seeds added per round when none is given

# Imports inside functions here: the sequential rule and the verdicts (results.sequential,
# results.summary, results.verdicts_table) import scipy: loaded when a round is looked at.


@dataclass
class UntilDecided:
    outcomes: list  # every run trained or read, the baseline's and the contrasts' own seeds
    baseline: str
    labels: list[str]  # the primary contrasts' loss settings, in suite order
    decision: object  # results.sequential.SequentialDecision
    seeds: list[int]  # the seeds in the order the looks take them
    stopped: str | None = None  # compare's looks never stop early (see Replayed)


def check_until_decided(selection, *, baseline_name: str | None, max_seeds: int, step: int):
    """(baseline label, the loss settings to contrast, the plan), or a UserError (exit 2) before
    anything trains: fewer than two loss settings, an unknown baseline, a budget below the seeds
    already listed, a step below 1."""
    from modbench.results.sequential import SequentialPlan
    from modbench.results.verdicts_table import VerdictSettings

    settings = VerdictSettings.of(selection.suite.verdict)
    labels = list(dict.fromkeys(r.label for r in selection.runs))
    if len(labels) < 2:
        raise UserError(f"--until-decided: suite '{selection.suite.name}' has {len(labels)} loss setting(s) selected; "
                        "a verdict needs a baseline and at least one other loss")
    name = settings.baseline or baseline_name
    settings_pairs = [(r.loss, r.label) for r in selection.runs]
    base = find_baseline(settings_pairs, name, suite=selection.suite.name) if name else labels[0]
    seeds = sorted(dict.fromkeys(r.seed for r in selection.runs))
    if max_seeds < len(seeds):
        raise UserError(f"--max-seeds {max_seeds} is below the {len(seeds)} seeds the suite already lists; "
                        f"give --max-seeds {len(seeds)} or more")
    plan = SequentialPlan(len(seeds), step, max_seeds, alpha=settings.alpha, margin=settings.margin)
    return base, [label for label in labels if label != base], plan


def planned_seeds(listed, max_seeds: int, avoid=()) -> list[int]:
    """The seeds in the order the looks take them: the suite's, then the smallest integers
    neither listed nor in ``avoid`` (a tuned suite's ``tuned.tuning_seeds``: a final run on a
    seed its tuning trained on could repeat the very trial whose validation score chose its
    setting, and its test metrics would carry that selection)."""
    seeds = sorted(dict.fromkeys(listed))
    taken = set(seeds) | set(avoid)
    extra = (s for s in range(10**9) if s not in taken)
    return seeds + [next(extra) for _ in range(max_seeds - len(seeds))]


def _tuning_seeds(selection) -> list[int]:
    """The seeds a tuned suite's tuning trained on (none for a suite that was not tuned)."""
    tuned = getattr(selection.suite, "tuned", None)
    return list(tuned.tuning_seeds) if tuned is not None else []


def run_until_decided(
    selection, *, reselect: Callable, train: Callable, records: Callable, baseline_name: str | None,
    max_seeds: int, step: int, progress: Callable[[str], None],
) -> UntilDecided:
    """The rounds (module docstring). ``reselect(seeds)``: the suite's RunSelection for those
    seeds; ``train(selection)``: its outcomes (trained or cached); ``records(key)``: a run's
    per-query records; ``progress(line)``: one line per round."""
    from modbench.results.verdicts_table import VerdictSettings

    base, labels, plan = check_until_decided(selection, baseline_name=baseline_name, max_seeds=max_seeds, step=step)
    settings = VerdictSettings.of(selection.suite.verdict)
    seeds = planned_seeds([r.seed for r in selection.runs], max_seeds, avoid=_tuning_seeds(selection))
    outcomes: dict[str, object] = {}

    def rows_at(want, active):
        chosen = reselect(want)
        chosen = replace(chosen, runs=[r for r in chosen.runs if r.label == base or r.label in active])
        for o in train(chosen):
            outcomes[o.run.key] = o
        return rows_from_outcomes(list(outcomes.values()))

    decision, _, _ = _looks(base, labels, plan, seeds, settings, records, rows_at, progress)
    order = {label: i for i, label in enumerate([base, *labels])}
    ordered = sorted(outcomes.values(), key=lambda o: (order.get(o.run.label, len(order)), o.run.seed))
    return UntilDecided(outcomes=ordered, baseline=base, labels=labels, decision=decision, seeds=seeds)


@dataclass
class Replayed:
    """``report --until-decided``: the sequential rule replayed on cached rows."""

    rows: list  # the rows the looks used: the baseline's and each contrast's seeds up to its last look
    baseline: str
    labels: list[str]
    decision: object  # results.sequential.SequentialDecision (None: not even the first look's runs are cached)
    seeds: list[int]
    stopped: str | None  # why the replay stopped before the rule did (runs the cache lacks), else None


def replay_until_decided(selection, rows, *, baseline_name: str | None, max_seeds: int, step: int,
                         records: Callable, progress: Callable[[str], None] = lambda line: None) -> Replayed:
    """The decisions ``compare --until-decided --max-seeds max_seeds --step step`` made (or would
    make) on ``selection`` (the suite with the same ``--loss``), from the cached ``rows`` of its
    runs (``results.rows.ResultRow``, one configuration per loss setting), training nothing: the
    same looks on the same runs, so the same verdicts. A look whose runs are not all in ``rows``
    ends the replay there (``stopped`` says which runs ``compare --until-decided`` would train);
    the contrasts still open are then undecided."""
    from modbench.results.verdicts_table import VerdictSettings

    base, labels, plan = check_until_decided(selection, baseline_name=baseline_name, max_seeds=max_seeds, step=step)
    settings = VerdictSettings.of(selection.suite.verdict)
    seeds = planned_seeds([r.seed for r in selection.runs], max_seeds, avoid=_tuning_seeds(selection))
    have = {(r.label, r.seed) for r in rows if r.status in ("done", "failed")}

    def rows_at(want, active):
        lacking = [f"{label} seed {s}" for label in [base, *[x for x in labels if x in active]] for s in want
                   if (label, s) not in have]
        if lacking:
            raise _Lacking(f"the cache lacks its runs of {', '.join(lacking)}")
        return [r for r in rows if r.seed in want and (r.label == base or r.label in active)]

    decision, used, stopped = _looks(base, labels, plan, seeds, settings, records, rows_at, progress)
    kept = [r for r in rows if r.label in used and r.seed in seeds[:used[r.label]]]
    return Replayed(rows=kept, baseline=base, labels=labels, decision=decision, seeds=seeds, stopped=stopped)


class _Lacking(Exception):
    """A look's runs are not all cached (``replay_until_decided``)."""


def _looks(base, labels, plan, seeds, settings, records, rows_at, progress):
    """The looks of the rule: ``rows_at(seeds, active labels)`` gives every row so far (training
    what it must, or raising ``_Lacking``). Returns the last decision, label -> the seeds of its
    last look (the baseline's: the last look's), and why the looks stopped early (or None)."""
    from modbench.results.sequential import sequential_decide
    from modbench.results.verdicts_table import look_contrasts

    active = set(labels)
    history: list = []
    decision = None
    used: dict[str, int] = {}
    for j, n in enumerate(plan.seeds_at_looks):
        want = seeds[:n]
        try:
            rows = rows_at(want, active)
        except _Lacking as exc:
            return decision, used, f"look {j + 1} ({n} seeds) was not replayed: {exc}"
        groups = group_rows(rows)
        now = [label for label in labels if label in active]
        looked = dict(zip(now, look_contrasts(groups, base, now, want, settings, records)))
        history.append([looked.get(label) for label in labels])
        used.update({label: n for label in [base, *now]})
        decision = sequential_decide(history, plan)
        words = ", ".join(f"{label} {v.verdict}" for label, v in zip(labels, decision.verdicts))
        line = f"until-decided: look {j + 1} of at most {plan.looks}, {n} seeds: {words}"
        if not decision.done:
            line += f"; next: {decision.next_seeds} seeds for {sum(v.needs_more_seeds for v in decision.verdicts)} undecided"
        progress(line)
        if decision.done:
            break
        active = {label for label, v in zip(labels, decision.verdicts) if v.needs_more_seeds}
    return decision, used, None


def decided_summaries(result: UntilDecided | Replayed, rows, *, settings, records, written=None, descriptions=None,
                       warn=None, suite: str | None = None):
    """The summaries of the final rows with the sequential verdicts in place of the fixed-sample
    ones, and label -> the seeds each decided contrast needed. ``descriptions`` and ``warn``: as
    ``results.summary.summarize_rows`` (``report`` gives them); ``suite``: only that suite's
    summaries get the sequential verdicts (``report``'s other sections keep theirs)."""
    from modbench.results.summary import summarize_rows
    from modbench.results.verdicts_table import sequential_verdicts

    annotate(rows, written)
    summaries = summarize_rows(rows, baselines={s: result.baseline for s in settings}, records=records, settings=settings,
                               descriptions=descriptions, warn=warn)
    decided_at: dict[str, int] = {}
    for s in summaries:
        if s.verdicts is not None and s.baseline == result.baseline and suite in (None, s.suite):
            s.verdicts, got = sequential_verdicts(s.verdicts, result.decision, result.labels)
            decided_at.update(got)
            if result.stopped:  # a replay that ran out of cached runs
                why = f"undecided because the replay stopped early: {result.stopped}"
                s.verdicts = replace(s.verdicts, primary=[
                    replace(v, reason=why) if v.verdict == "undecided" else v for v in s.verdicts.primary])
    return summaries, decided_at
