"""``--baseline NAME``: which loss setting is the baseline, and every other setting against it."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from modbench.errors import UserError, closest
from modbench.results.aggregate import Group
from modbench.results.stats import ALPHA, Comparison, holm, welch


def find_baseline(settings: Iterable[tuple[str, str]], name: str, *, suite: str = "") -> str:
    """The label of the baseline among ``settings`` ((loss name, label) pairs, in suite order).

    ``name`` is a label or a loss name; a loss name that several settings share (a sweep) is
    ambiguous and must be given as a label. Raises a ``UserError`` (exit 2) naming the choices.
    """
    settings = list(dict.fromkeys(settings))
    labels = [label for _, label in settings]
    if name in labels:
        return name
    by_name = [label for loss, label in settings if loss == name]
    if len(by_name) == 1:
        return by_name[0]
    where = f" in suite '{suite}'" if suite else ""
    if len(by_name) > 1:
        raise UserError(
            f"--baseline {name}: {len(by_name)} loss settings{where} are '{name}'; "
            f"give one label instead (choices: {', '.join(by_name)})"
        )
    choices = sorted(set(labels) | {loss for loss, _ in settings})
    hint = closest(name, choices)
    did_you_mean = f"; did you mean '{hint}'?" if hint else ""
    raise UserError(
        f"--baseline {name}: no loss named or labelled '{name}'{where}{did_you_mean} "
        f"(choices: {', '.join(choices)})"
    )


@dataclass(frozen=True)
class BaselineRow:
    label: str  # the loss setting compared with the baseline
    metric: str
    comparison: Comparison
    p_holm: float = math.nan  # Holm-adjusted over every testable comparison of the table
    family: int = 0  # how many testable comparisons the Holm adjustment counted

    @property
    def significant_holm(self) -> bool | None:
        """True when the Holm-adjusted p is below alpha; None when the test could not be run."""
        if not self.comparison.testable:
            return None
        return bool(self.p_holm < self.comparison.alpha)


def compare_to_baseline(
    groups: list[Group], baseline: str, metrics: Iterable[str], alpha: float = ALPHA
) -> list[BaselineRow]:
    """For each group other than ``baseline`` (a label) and each metric, the Welch comparison of
    its seeds' values with the baseline's. Rows in group order, then metric order."""
    base = next((g for g in groups if g.label == baseline), None)
    if base is None:
        raise UserError(f"--baseline: no loss labelled '{baseline}' among the results")
    metrics = list(metrics)
    tests = []
    for group in groups:
        if group is base:
            continue
        for metric in metrics:
            tests.append((group.label, metric, welch(group.values(metric), base.values(metric), alpha)))
    # The family is the whole table: every loss against the baseline on every metric.
    adjusted = holm(c.p if c.testable else math.nan for _, _, c in tests)
    family = sum(c.testable for _, _, c in tests)
    return [BaselineRow(label, metric, c, p, family) for (label, metric, c), p in zip(tests, adjusted)]


def comparison_record(c: Comparison, row: BaselineRow | None = None) -> dict:
    """JSON fields of one comparison (NaN as None); with its ``row``, the Holm adjustment."""

    def num(v: float):
        return None if v != v else v

    holm_fields = {} if row is None else {
        "p_holm": num(row.p_holm),
        "exceeds_noise_holm": row.significant_holm,
        "holm_family": row.family,
    }
    return {
        "diff": num(c.diff),
        "ci": [num(c.ci_low), num(c.ci_high)] if c.testable else None,
        "t": num(c.t),
        "df": num(c.df),
        "p": num(c.p),
        "testable": c.testable,
        "exceeds_noise": c.significant,
        "reason": c.reason or None,
        "n": [c.n_candidate, c.n_baseline],
        **holm_fields,
    }


def baseline_records(rows: list[BaselineRow], baseline: str) -> dict[str, dict]:
    """Label -> the ``"versus_baseline"`` object of that label's aggregate record."""
    from modbench.results.stats import HOLM_NAME, TEST_NAME

    out: dict[str, dict] = {}
    for r in rows:
        entry = out.setdefault(
            r.label,
            {"baseline": baseline, "test": TEST_NAME, "alpha": r.comparison.alpha, "diff": "mean(loss) - mean(baseline)",
             "p": "Welch's p, unadjusted", "p_holm": f"{HOLM_NAME} adjusted p over every testable comparison of the suite "
             "(every loss against the baseline on every metric)", "metrics": {}},
        )
        entry["metrics"][r.metric] = comparison_record(r.comparison, r)
    return out

