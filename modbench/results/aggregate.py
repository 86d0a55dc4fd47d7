"""Aggregation over seeds: one group per configuration with, per metric, the mean, the sample
standard deviation (ddof=1) and the number of seeds that have a value.

A group (one table row) is one resolved run configuration without its seed, and one run
identity (device, precision, CPU threads, code digest as ``result.json`` records them): runs that
differ in anything but the seed never share a row, whatever their labels say. Where two rows of a
suite would show the same label, the label gains the settings that tell them apart."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modbench.canonical import canonical_json
from modbench.results.rows import ACCURACY, ACCURACY_LABEL, ResultRow, accuracy_applicable
from modbench.results.split_protocol import protocol_text
from modbench.results.stats import Summary, summarize
from modbench.suite.keys import ACROSS_SEEDS, configuration_key

Cell = Summary  # mean, std (ddof=1, NaN for one seed), n, min, max


@dataclass
class Group:
    suite: str
    dataset: str
    backbone: str
    loss: str
    label: str
    rows: list[ResultRow] = field(default_factory=list)
    base_label: str = ""  # the label the suite gave, before it was told apart from another row

    def __post_init__(self):
        self.base_label = self.base_label or self.label

    @property
    def identity(self) -> dict[str, Any]:
        """The identity of the group's finished runs (one identity per group by construction)."""
        return next((r.identity for r in self.done if r.identity), {})

    @property
    def deviations(self) -> list:
        return list(self.rows[0].deviations) if self.rows else []

    @property
    def params(self) -> dict[str, Any]:
        return self.rows[0].params if self.rows else {}

    @property
    def status(self) -> str:
        statuses = {r.status for r in self.rows}
        if "done" in statuses:
            return "done"
        return "failed" if "failed" in statuses else "missing"

    @property
    def accuracy_applicable(self) -> bool | None:
        """Whether the group's loss has a classifier head (``rows.accuracy_applicable``)."""
        return next((a for a in (accuracy_applicable(r.result) for r in self.done) if a is not None), None)

    @property
    def done(self) -> list[ResultRow]:
        return [r for r in self.rows if r.status == "done"]

    @property
    def planned(self) -> bool:
        """Whether the group holds runs of its suite's plan on this code (``ResultRow.planned``);
        False for a row of cached runs found beside it (older code, an override)."""
        return any(r.planned for r in self.rows)

    @property
    def seeds(self) -> list[int]:
        """Seeds of the finished runs."""
        return [r.seed for r in self.done]

    @property
    def n_done(self) -> int:
        return len(self.done)

    @property
    def n_total(self) -> int:
        return len(self.rows)

    @property
    def config(self) -> dict[str, Any]:
        """The resolved configuration of the group's first run (the same for every seed but the
        seed itself)."""
        return self.rows[0].config if self.rows else {}

    @property
    def swept(self) -> dict[str, Any]:
        return self.rows[0].swept if self.rows else {}

    def values(self, metric: str) -> list[float | None]:
        """One value per finished run (None where the run has no value for ``metric``)."""
        return [r.metrics.get(metric) for r in self.done]

    def cell(self, metric: str) -> Cell | None:
        return summarize(self.values(metric))

    def metric_names(self) -> list[str]:
        names: list[str] = []
        for r in self.done:
            names += [m for m in r.metrics if m not in names]
        return names


def row_key(row: ResultRow) -> str:
    """The row's resolved configuration without the seed (the seed is what a row averages over)."""
    return configuration_key(row.config if isinstance(row.config, dict) else {}, ACROSS_SEEDS)


def group_rows(rows: list[ResultRow]) -> list[Group]:
    """Groups in first-seen order (the suite's loss order): one per suite, label, configuration
    without the seed, and run identity. Rows without a result (missing, failed) have no identity and join
    the first group of their configuration."""
    by_config: dict[tuple[str, str, str], list[ResultRow]] = {}
    for row in rows:  # the label too: two names for one configuration stay two rows
        by_config.setdefault((row.suite, row.label, row_key(row)), []).append(row)
    groups: list[Group] = []
    for same_config in by_config.values():
        split: dict[str, list[ResultRow]] = {}
        pending: list[ResultRow] = []
        for row in same_config:
            if row.status == "done":
                split.setdefault(canonical_json(row.identity), []).append(row)
            else:
                pending.append(row)
        parts = list(split.values()) or [[]]
        order = {id(r): i for i, r in enumerate(same_config)}
        parts[0] = sorted(parts[0] + pending, key=lambda r: order[id(r)])
        for part in parts:
            first = part[0]
            groups.append(Group(first.suite, first.dataset, first.backbone, first.loss, first.label, part))
    _tell_apart(groups)
    return groups


def flat(obj: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists stay values)."""
    if not isinstance(obj, dict):
        return {prefix: obj}
    out: dict[str, Any] = {}
    for k, v in obj.items():
        out.update(flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _short(key: str) -> str:
    """``loss.params.beta`` -> ``beta``; other keys keep their section (``train.epochs``)."""
    return key.split(".", 2)[2] if key.startswith("loss.params.") else key


def _tell_apart(groups: list[Group]) -> None:
    """Where groups of one suite share a label but differ in configuration, append the settings
    in which they differ, e.g. ``New loss (beta=2)`` and ``New loss (beta=4)``. Where exactly one
    of them is the suite's plan on this code (its rows ``planned``), it keeps the label, so that
    a suite's baseline and ``--loss`` still name it, and only the others (older code, overrides)
    are told apart. Groups of one configuration that differ only in identity keep their label:
    the tables show an identity column for them."""
    clashes: dict[tuple[str, str], list[Group]] = {}
    for g in groups:
        clashes.setdefault((g.suite, g.label), []).append(g)
    for same in clashes.values():
        configs = {row_key(g.rows[0]): g.rows[0].config for g in same}
        if len(configs) < 2:
            continue
        flats = [flat({k: v for k, v in c.items() if k != "seed"}) for c in configs.values()]
        keys = sorted({k for f in flats for k in f})
        differing = [k for k in keys if len({canonical_json(f.get(k)) for f in flats}) > 1]
        planned = [g for g in same if g.planned]
        for g in same:
            if planned == [g]:
                continue
            f = flat({k: v for k, v in g.rows[0].config.items() if k != "seed"})
            g.label = f"{g.base_label} ({', '.join(f'{_short(k)}={_value(f.get(k))}' for k in differing)})"


def _value(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    text = str(v)
    return text[:12] if len(text) > 16 and text.isalnum() else text  # a code digest: its start


def aggregate_record(group: Group, metrics: list[str] | None = None) -> dict[str, Any]:
    """The JSON object of a group: the run objects' fields with ``"seed": null`` and ``"run":
    null``, each metric's mean at the top level (as a run object holds its value), and the spread
    under ``"aggregate"``. NaN becomes None (JSON null)."""
    metrics = metrics if metrics is not None else group.metric_names()
    cells = {m: group.cell(m) for m in metrics}
    cells = {m: c for m, c in cells.items() if c is not None}
    out: dict[str, Any] = {
        "suite": group.suite,
        "dataset": group.dataset,
        "protocol": protocol_text(group.config, next((r.result for r in group.done if r.result), None)),
        "backbone": group.backbone,
        "loss": group.loss,
        "label": group.label,
        "seed": None,
        "status": group.status,
        "run": None,
    }
    out.update({m: _json_number(c.mean) for m, c in cells.items()})
    if group.accuracy_applicable is not None:
        out.setdefault(ACCURACY, None)  # null for an embedding-only loss: not applicable
        out["accuracy_applicable"] = group.accuracy_applicable
        out["accuracy_is"] = ACCURACY_LABEL
    out["params"] = group.params
    out["identity"] = group.identity
    out["deviations"] = [d.record() for d in group.deviations]
    out["aggregate"] = {
        "n": group.n_done,
        "listed": group.n_total,
        "seeds": group.seeds,
        "runs": [r.key for r in group.done],
        "mean": "arithmetic mean over seeds (the top-level metric values)",
        "std_ddof": 1,
        "std": {m: _json_number(c.std) for m, c in cells.items()},
        "count": {m: c.n for m, c in cells.items()},
        "min": {m: c.min for m, c in cells.items()},
        "max": {m: c.max for m, c in cells.items()},
    }
    return out


def _json_number(value: float) -> float | None:
    return None if value != value else value
