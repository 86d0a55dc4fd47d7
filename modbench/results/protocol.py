"""What a suite's numbers were measured under, read from the cached records of its finished runs
(``result.json``: ``config``, ``data`` sizes, ``eval``, ``metric_info``, ``versions``,
``device``, ``checkpoint``, ``date``). Values that differ between runs are kept as lists of the
distinct values, so a report never hides a mix of settings or versions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modbench.canonical import canonical_json
from modbench.results.aggregate import Group
from modbench.results.rows import run_identity
from modbench.results.split_protocol import CLASS_DISJOINT, protocol_mode

# Datasets whose test split holds the training classes (closed-set retrieval).
CLOSED_SET_DATASETS = {"cifar10", "cifar100", "fashion-mnist", "digits"}

# metric_info keys shown in a report (the others stay in result.json).
METRIC_INFO_KEYS = (
    "distance", "normalized", "kmeans_implementation", "kmeans_init", "kmeans_points", "backend",
    "retrieval",  # query/gallery test splits only (In-Shop): shown when a run has it
)


def distinct(values) -> list[Any]:
    """Distinct values in first-seen order (compared as canonical JSON; None skipped)."""
    seen: dict[str, Any] = {}
    for v in values:
        if v is None:
            continue
        seen.setdefault(canonical_json(v), v)
    return list(seen.values())


@dataclass
class LossInfo:
    label: str
    name: str
    params: dict[str, Any]
    seeds: list[int]  # finished
    listed: int
    lr: Any = None  # this loss's train.lr (a suite's losses may each set their own)
    optimizer: Any = None  # this loss's train.optimizer (likewise)


@dataclass
class Protocol:
    suite: str
    description: str
    dataset: dict[str, Any]
    backbone: dict[str, Any]
    train: dict[str, Any]
    losses: list[LossInfo]
    seeds: list[int]  # every finished seed, sorted
    sizes: list[dict[str, int]] = field(default_factory=list)
    eval: list[dict[str, Any]] = field(default_factory=list)
    metric_info: dict[str, list[Any]] = field(default_factory=dict)
    versions: dict[str, list[str]] = field(default_factory=dict)
    devices: list[str] = field(default_factory=list)
    identities: list[dict[str, Any]] = field(default_factory=list)  # device, precision, CPU threads
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    train_seconds: float = 0.0
    dates: list[str] = field(default_factory=list)  # first and last result date
    n_runs: int = 0  # finished runs

    @property
    def lr_per_loss(self) -> bool:
        """Whether the losses train at different learning rates (the protocol's Losses list shows them)."""
        return len({repr(loss.lr) for loss in self.losses}) > 1

    @property
    def optimizer_per_loss(self) -> bool:
        """Whether the losses train with different optimizers (the protocol's Losses list shows them)."""
        return len({repr(loss.optimizer) for loss in self.losses}) > 1

    @property
    def class_disjoint(self) -> bool:
        recorded = any(isinstance(s, dict) and protocol_mode(None, {"data": s}) == CLASS_DISJOINT
                       for s in self.sizes)
        return recorded or protocol_mode({"dataset": self.dataset}) == CLASS_DISJOINT

    @property
    def closed_set(self) -> bool:
        """A built-in dataset's official division (every class in train and test), as run."""
        return self.dataset.get("name") in CLOSED_SET_DATASETS and not self.class_disjoint


def suite_protocol(suite: str, groups: list[Group], description: str = "") -> Protocol:
    config = next((g.config for g in groups if g.config), {})
    results = [r.result for g in groups for r in g.done if r.result]
    versions: dict[str, list[str]] = {}
    for res in results:
        for package, version in (res.get("versions") or {}).items():
            if version not in versions.setdefault(package, []):
                versions[package].append(version)
    info = {k: distinct((res.get("metric_info") or {}).get(k) for res in results) for k in METRIC_INFO_KEYS}
    if not info["retrieval"]:
        del info["retrieval"]
    dates = sorted(d for d in (res.get("date") for res in results) if d)
    return Protocol(
        suite=suite,
        description=description,
        dataset=dict(config.get("dataset", {})),
        backbone=dict(config.get("backbone", {})),
        train=dict(config.get("train", {})),
        losses=[
            LossInfo(g.label, g.loss, dict(g.config.get("loss", {}).get("params", {})), g.seeds, g.n_total,
                     (g.config.get("train") or {}).get("lr"), (g.config.get("train") or {}).get("optimizer"))
            for g in groups
        ],
        seeds=sorted({s for g in groups for s in g.seeds}),
        sizes=distinct(res.get("data") for res in results),
        eval=distinct(
            {k: (res.get("eval") or {}).get(k) for k in ("metrics", "kmeans_seed", "kmeans_n_init")} for res in results
        ),
        metric_info={k: v for k, v in info.items() if v},
        versions=versions,
        devices=distinct(res.get("device") for res in results),
        identities=distinct(run_identity(res) or None for res in results),
        checkpoints=distinct(res.get("checkpoint") for res in results),
        train_seconds=sum(float(res.get("train_seconds") or 0.0) for res in results),
        dates=[dates[0], dates[-1]] if dates else [],
        n_runs=len(results),
    )
