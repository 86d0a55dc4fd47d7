"""Training curves from the cache: per epoch, each validation metric and the training loss, per
loss setting, with the mean and the min-max range over seeds.

Read from each finished run's ``history.json``: a list of ``{"epoch", "train_loss", "val": {...}}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from modbench.results.aggregate import Group
from modbench.results.stats import finite_values
from modbench.suite.schema import DEFAULT_EVAL_METRICS

TRAIN_LOSS = "train_loss"


@dataclass
class Curve:
    label: str
    swept: dict[str, Any]
    epochs: list[int]
    seeds: list[int]
    runs: list[list[float]]  # one list per seed, aligned with ``epochs`` (NaN where absent)
    mean: list[float] = field(default_factory=list)  # over the seeds that have a value
    low: list[float] = field(default_factory=list)  # min over seeds
    high: list[float] = field(default_factory=list)  # max over seeds

    @property
    def n_seeds(self) -> int:
        return len(self.runs)


def _value(record: dict[str, Any], metric: str) -> float:
    raw = record.get(TRAIN_LOSS) if metric == TRAIN_LOSS else (record.get("val") or {}).get(metric)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return math.nan
    return value


def curve_metrics(histories: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The validation metrics recorded in any history (in the order of the suite schema's
    metric list, unknown names after it), then the training loss."""
    names: list[str] = []
    has_loss = False
    for history in histories.values():
        for record in history:
            names += [m for m in (record.get("val") or {}) if m not in names]
            has_loss = has_loss or TRAIN_LOSS in record
    order = {m: i for i, m in enumerate(DEFAULT_EVAL_METRICS)}
    names.sort(key=lambda m: (order.get(m, len(order)), m))
    return names + ([TRAIN_LOSS] if has_loss else [])


def metric_curves(groups: list[Group], histories: dict[str, list[dict[str, Any]]], metric: str) -> list[Curve]:
    """One curve per group with at least one finished run that has a history; ``histories``
    maps run keys to their history records."""
    curves = []
    for group in groups:
        runs = [(r.seed, histories.get(r.key) or []) for r in group.done]
        runs = [(seed, h) for seed, h in runs if h]
        if not runs:
            continue
        epochs = sorted({int(rec["epoch"]) for _, h in runs for rec in h if "epoch" in rec})
        series = []
        for _, history in runs:
            by_epoch = {int(rec["epoch"]): _value(rec, metric) for rec in history if "epoch" in rec}
            series.append([by_epoch.get(e, math.nan) for e in epochs])
        curve = Curve(group.label, dict(group.swept), epochs, [s for s, _ in runs], series)
        for i in range(len(epochs)):
            column = finite_values(s[i] for s in series)
            curve.mean.append(math.fsum(column) / len(column) if column else math.nan)
            curve.low.append(min(column) if column else math.nan)
            curve.high.append(max(column) if column else math.nan)
        curves.append(curve)
    return curves


def read_histories(store, groups: list[Group]) -> dict[str, list[dict[str, Any]]]:
    """Run key -> history records, for every finished run of ``groups``."""
    return {r.key: store.run(r.key).read_history() for g in groups for r in g.done}


def section_curves(store, groups: list[Group]) -> dict[str, list[Curve]]:
    """Metric -> curves, for the groups of one report section."""
    histories = read_histories(store, groups)
    return {m: metric_curves(groups, histories, m) for m in curve_metrics(histories)}
