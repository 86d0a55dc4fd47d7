"""``compare --until-decided``: add seeds to the undecided primary contrasts, look, repeat.

Each round trains the next seeds of the baseline and of every loss setting whose primary contrast
is still undecided (``results.sequential``: alpha spending over the planned looks, Holm over the
contrasts), then looks again. Every seed is an ordinary cached run, so an interrupted command,
rerun, finds the runs it trained and replays the same decisions (the rule is a function of the
contrasts at every look). Called through ``compare.compare_until_decided``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from modbench.errors import UserError
from modbench.results.aggregate import group_rows
from modbench.results.baseline import find_baseline
from modbench.results.deviations import annotate
from modbench.results.rows import rows_from_outcomes

# Imports inside functions here: the sequential rule and the verdicts (results.sequential,
# results.summary, results.verdicts_table) import scipy: loaded when a round is looked at.


@dataclass
class UntilDecided:
    outcomes: list  # every run trained or read, the baseline's and the contrasts' own seeds
    baseline: str
    labels: list[str]  # the primary contrasts' loss settings, in suite order
    decision: object  # results.sequential.SequentialDecision
    seeds: list[int]  # the seeds in the order the looks take them


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


def run_until_decided(
    selection, *, reselect: Callable, train: Callable, records: Callable, baseline_name: str | None,
    max_seeds: int, step: int, progress: Callable[[str], None],
) -> UntilDecided:
    """The rounds (module docstring). ``reselect(seeds)``: the suite's RunSelection for those
    seeds; ``train(selection)``: its outcomes (trained or cached); ``records(key)``: a run's
    per-query records; ``progress(line)``: one line per round."""
    from modbench.results.sequential import sequential_decide
    from modbench.results.verdicts_table import VerdictSettings, look_contrasts

    base, labels, plan = check_until_decided(selection, baseline_name=baseline_name, max_seeds=max_seeds, step=step)
    settings = VerdictSettings.of(selection.suite.verdict)
    seeds = sorted(dict.fromkeys(r.seed for r in selection.runs))
    extra = (s for s in range(10**9) if s not in seeds)
    seeds += [next(extra) for _ in range(max_seeds - len(seeds))]
    active = set(labels)
    outcomes: dict[str, object] = {}
    history: list = []
    decision = None
    for j, n in enumerate(plan.seeds_at_looks):
        want = seeds[:n]
        chosen = reselect(want)
        chosen = replace(chosen, runs=[r for r in chosen.runs if r.label == base or r.label in active])
        for o in train(chosen):
            outcomes[o.run.key] = o
        groups = group_rows(rows_from_outcomes(list(outcomes.values())))
        now = [label for label in labels if label in active]
        looked = dict(zip(now, look_contrasts(groups, base, now, want, settings, records)))
        history.append([looked.get(label) for label in labels])
        decision = sequential_decide(history, plan)
        words = ", ".join(f"{label} {v.verdict}" for label, v in zip(labels, decision.verdicts))
        line = f"until-decided: look {j + 1} of at most {plan.looks}, {n} seeds: {words}"
        if not decision.done:
            line += f"; next: {decision.next_seeds} seeds for {sum(v.needs_more_seeds for v in decision.verdicts)} undecided"
        progress(line)
        if decision.done:
            break
        active = {label for label, v in zip(labels, decision.verdicts) if v.needs_more_seeds}
    order = {label: i for i, label in enumerate([base, *labels])}
    ordered = sorted(outcomes.values(), key=lambda o: (order.get(o.run.label, len(order)), o.run.seed))
    return UntilDecided(outcomes=ordered, baseline=base, labels=labels, decision=decision, seeds=seeds)


def decided_summaries(result: UntilDecided, rows, *, settings, records, written=None):
    """The summaries of the final rows with the sequential verdicts in place of the fixed-sample
    ones, and label -> the seeds each decided contrast needed."""
    from modbench.results.summary import summarize_rows
    from modbench.results.verdicts_table import sequential_verdicts

    annotate(rows, written)
    summaries = summarize_rows(rows, baselines={s: result.baseline for s in settings}, records=records, settings=settings)
    decided_at: dict[str, int] = {}
    for s in summaries:
        if s.verdicts is not None and s.baseline == result.baseline:
            s.verdicts, got = sequential_verdicts(s.verdicts, result.decision, result.labels)
            decided_at.update(got)
    return summaries, decided_at
