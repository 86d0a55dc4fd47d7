"""The paper's Tables 1 and 2 as data (``modbench/paper_data/paper_tables.json``), and which of its rows
match a measured loss setting.

A measured setting matches a paper row on dataset (CIFAR-100 with fine labels only), backbone and
loss name: ``margin`` = "Margin loss", ``triplet`` = "Triplet loss", ``improved`` = "New loss*".
Suite names play no part, so any suite with the paper's dataset and backbone gets the paper's
numbers beside its own.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

DATA_FILE = "paper_data/paper_tables.json"

# The paper's "F1" (section 3.3) is the macro-F1 of classification, not the pairwise clustering
# F1 that modbench calls ``f1``: read from the data file, it is set beside modbench's
# ``macro_f1``, never beside ``f1``.
PAPER_METRIC_AS = {"f1": "macro_f1"}


@dataclass(frozen=True)
class PaperRow:
    table: int
    printed_row: int
    dataset: str
    labels: str | None  # CIFAR-100 label set ("fine"); None for other datasets
    backbone: str
    loss: str  # modbench loss name
    printed_loss: str  # as printed in the paper
    values: dict[str, float]


@dataclass(frozen=True)
class PaperTable:
    table: int
    caption: str
    metrics: list[str]
    interpretation: str
    rows: list[PaperRow]


@dataclass(frozen=True)
class Paper:
    source: dict[str, Any]
    notes: list[str]
    protocol: dict[str, Any]
    tables: dict[int, PaperTable] = field(default_factory=dict)

    @property
    def cite(self) -> str:
        return self.source["cite"]

    def row(self, table: int, *, dataset: str, labels: str | None, backbone: str, loss: str) -> PaperRow | None:
        """The paper's row of ``table`` for this dataset, backbone and loss, if it has one."""
        if table not in self.tables:
            return None
        if dataset == "cifar100":
            labels = labels or "fine"  # the dataset's default label set
        for row in self.tables[table].rows:
            if (row.dataset, row.backbone, row.loss) == (dataset, backbone, loss) and (
                row.labels is None or row.labels == labels
            ):
                return row
        return None

    def row_for_config(self, table: int, config: dict[str, Any]) -> PaperRow | None:
        """The paper's row for a run's resolved configuration (``config.json``)."""
        try:
            dataset = config["dataset"]
            return self.row(
                table,
                dataset=dataset["name"],
                labels=dataset.get("labels"),
                backbone=config["backbone"]["name"],
                loss=config["loss"]["name"],
            )
        except (KeyError, TypeError):
            return None

    def differences(self, config: dict[str, Any]) -> list[str]:
        """How a run's settings differ from the paper's protocol, e.g. ``epochs 1 (paper: 70)``."""
        p = self.protocol
        train = config.get("train", {})
        out = []
        checks = [
            ("optimizer", train.get("optimizer"), p["optimizer"]),
            ("lr", train.get("lr"), p["lr"]),
            ("weight_decay", train.get("weight_decay"), p["weight_decay"]),
            ("beta1", (train.get("betas") or [None])[0], p["beta1"]),
            ("epochs", train.get("epochs"), p["epochs"]),
            # a weights file is pretrained weights too (backbone.weights)
            ("pretrained", bool(config.get("backbone", {}).get("pretrained") or config.get("backbone", {}).get("weights")),
             p["pretrained"]),
        ]
        for name, ours, theirs in checks:
            if ours != theirs:
                out.append(f"{name} {ours} (paper: {theirs})")
        if config.get("backbone", {}).get("freeze_bn"):
            out.append("freeze_bn True (paper: BatchNorm trained)")
        subset = config.get("dataset", {}).get("subset")
        if subset is not None:
            out.append(f"subset {subset} images per class (paper: full training set)")
        loss = config.get("loss", {})
        wanted = p["improved_params"].get(config.get("dataset", {}).get("name"))
        if loss.get("name") == "improved" and wanted:
            for key, value in wanted.items():
                ours = loss.get("params", {}).get(key)
                if ours != value:
                    out.append(f"{key} {ours} (paper: {value})")
        return out


def _table(raw: dict[str, Any]) -> PaperTable:
    rows = [
        PaperRow(
            table=raw["table"],
            printed_row=r["printed_row"],
            dataset=r["dataset"],
            labels=r.get("labels"),
            backbone=r["backbone"],
            loss=r["loss"],
            printed_loss=r["printed_loss"],
            values={PAPER_METRIC_AS.get(k, k): float(v) for k, v in r["values"].items()},
        )
        for r in raw["rows"]
    ]
    metrics = [PAPER_METRIC_AS.get(m, m) for m in raw["metrics"]]
    return PaperTable(raw["table"], raw["caption"], metrics, raw["interpretation"], rows)


def parse_paper(data: dict[str, Any]) -> Paper:
    tables = {t["table"]: _table(t) for t in data["tables"]}
    return Paper(dict(data["source"]), list(data["notes"]), dict(data["protocol"]), tables)


def read_paper_json() -> dict[str, Any]:
    """The raw JSON, read from the installed package (or the source checkout)."""
    return json.loads(resources.files("modbench").joinpath(DATA_FILE).read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def load_paper() -> Paper:
    return parse_paper(read_paper_json())


def paper_records(paper: Paper, groups) -> list[dict[str, Any]]:
    """JSON objects of the paper's rows that match measured groups, one per group with a match:
    the paper's values of both tables at the top level, ``"status": "paper"``, ``"seed": null``
    and the source under ``"paper"``."""
    out = []
    for group in groups:
        matches = [r for t in sorted(paper.tables) if (r := paper.row_for_config(t, group.config)) is not None]
        if not matches:
            continue
        record: dict[str, Any] = {
            "suite": group.suite,
            "dataset": group.dataset,
            "backbone": group.backbone,
            "loss": group.loss,
            "label": matches[0].printed_loss,
            "seed": None,
            "status": "paper",
            "run": None,
        }
        for row in matches:
            record.update(row.values)
        record["paper"] = {
            "cite": paper.cite,
            "rows": [{"table": r.table, "printed_row": r.printed_row} for r in matches],
            "measured_label": group.label,
            "differences": paper.differences(group.config),
            "metrics_as": {
                "macro_f1": "the paper's F1 (its section 3.3: macro-F1 of classification), set beside modbench's "
                "macro_f1; the paper does not report modbench's f1 (pairwise clustering F1)",
            },
        }
        out.append(record)
    return out


def matches_any(paper: Paper, rows) -> bool:
    """Whether any row's configuration has a row in the paper's tables."""
    return any(paper.row_for_config(t, r.config) is not None for r in rows for t in paper.tables)
