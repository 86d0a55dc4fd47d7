"""One row per run: what every renderer (Rich, Markdown, CSV, JSON) starts from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modbench.cache.store import CorruptFile
from modbench.results.split_protocol import CLASS_DISJOINT, protocol_mode, protocol_text

# Table 1 shows both F1s: the pairwise clustering F1 and macro-F1, which is what the paper's
# section 3.3 calls F1.
TABLE1_METRICS = ("nmi", "f1", "macro_f1")
TABLE2_METRICS = ("recall@1", "recall@2", "recall@4", "recall@8")
# Not in the paper: the retrieval metrics of Musgrave et al. 2020, MAP@R being the default
# metric of tuning.
TABLE3_METRICS = ("map@r", "p@1")

# The top-1 accuracy of a softmax-family loss's classifier head on the test split (result.json
# "metrics", engine/evaluate.py). Embedding-only losses have no head: not applicable, never 0.
ACCURACY = "accuracy"
ACCURACY_LABEL = "classifier top-1, softmax-family losses only; not comparable with embedding-only losses"
NOT_APPLICABLE = "n/a"


def accuracy_applicable(result: dict[str, Any] | None) -> bool | None:
    """Whether a run's loss has a classifier whose accuracy ``result.json`` holds: True for
    the softmax family, False for embedding-only losses and for every class-disjoint run (its
    classifier knows the training classes only, so it cannot name a test image's class), None
    for a result that does not say (written before the family was recorded, or no result)."""
    family = result.get("family") if isinstance(result, dict) else None
    if family is not None and protocol_mode(result.get("config"), result) == CLASS_DISJOINT:
        return False
    return {"softmax": True, "embedding": False}.get(family)


@dataclass
class ResultRow:
    suite: str
    dataset: str
    backbone: str
    loss: str
    label: str
    seed: int
    key: str
    status: str  # "done" | "failed" | "missing"
    metrics: dict[str, float] = field(default_factory=dict)
    failure: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)  # the run's resolved configuration
    swept: dict[str, Any] = field(default_factory=dict)  # the sweep values of its loss setting
    # How this run differs from its suite as written (results/deviations.py); empty for a run
    # of the suite as written.
    deviations: list = field(default_factory=list)
    # False for a cached run the report found beside its suite's plan on this code (another
    # seed, an override, older code): where it shares a label with a planned run, the planned
    # run keeps the label (results/aggregate.py).
    planned: bool = True

    @property
    def params(self) -> dict[str, Any]:
        """The loss parameters of the resolved configuration (defaults filled in)."""
        loss = self.config.get("loss") if isinstance(self.config, dict) else None
        params = loss.get("params") if isinstance(loss, dict) else None
        return dict(params) if isinstance(params, dict) else {}

    @property
    def identity(self) -> dict[str, Any]:
        """What, besides the configuration, can change this run's numbers (device, precision,
        CPU threads), as ``result.json`` records it (``run_identity``). Empty for a run without
        a result."""
        return run_identity(self.result)

    def record(self) -> dict[str, Any]:
        """The JSON object of this run (``--json``; the fields are listed in docs/reporting.md)."""
        out: dict[str, Any] = {
            "suite": self.suite,
            "dataset": self.dataset,
            "protocol": protocol_text(self.config, self.result),
            "backbone": self.backbone,
            "loss": self.loss,
            "label": self.label,
            "seed": self.seed,
            "status": self.status,
            "run": self.key,
        }
        # NaN (a metric undefined on this data) is not JSON: it becomes null.
        out.update({k: (None if v != v else v) for k, v in self.metrics.items()})
        if self.failure:
            out["failure"] = self.failure
        applicable = accuracy_applicable(self.result)
        if applicable is not None:
            out.setdefault(ACCURACY, None)  # null for an embedding-only loss: not applicable
            out["accuracy_applicable"] = applicable
            out["accuracy_is"] = ACCURACY_LABEL
        out["params"] = self.params
        out["identity"] = self.identity
        out["deviations"] = [d.record() for d in self.deviations]
        return out


IDENTITY_FALLBACK_KEYS = ("device", "precision", "cpu_threads")


IDENTITY_ORDER = ("device", "precision", "cpu_threads")


def run_identity(result: dict[str, Any] | None) -> dict[str, Any]:
    """The identity of a run from its ``result.json`` (see ``ResultRow.identity``): its
    ``numerics`` (device type, precision, CPU threads: modbench/identity.py) or ``identity``
    object over the older top-level ``device`` and ``cpu_threads``; read with ``.get`` so that
    results written before the engine recorded them still render. (The code digest is part of
    the configuration, ``config["code"]``, so it separates rows as configuration.)"""
    if not isinstance(result, dict):
        return {}
    recorded = [result.get(name) for name in ("numerics", "identity") if isinstance(result.get(name), dict)]
    if not recorded:  # written before the engine recorded its numerics
        return {k: result[k] for k in IDENTITY_FALLBACK_KEYS if result.get(k) is not None}
    out: dict[str, Any] = {}
    for record in recorded:
        out.update({k: v for k, v in record.items() if v is not None})
    # one order whichever way the record was read (a fresh result, a sorted JSON file)
    order = [k for k in IDENTITY_ORDER if k in out] + sorted(k for k in out if k not in IDENTITY_ORDER)
    return {k: out[k] for k in order}


def row_for(run, status: str, result: dict | None = None, failure: dict | None = None) -> ResultRow:
    done = status in ("done", "trained", "cached")
    return ResultRow(
        suite=run.suite,
        dataset=run.dataset,
        backbone=run.backbone,
        loss=run.loss,
        label=run.label,
        seed=run.seed,
        key=run.key,
        status="done" if done and result else ("failed" if status == "failed" else "missing"),
        metrics=dict(result["metrics"]) if result else {},
        failure=failure,
        result=result,
        config=dict(getattr(run, "config", None) or {}),
        swept=dict(getattr(run, "swept", None) or {}),
    )


def rows_from_outcomes(outcomes) -> list[ResultRow]:
    return [row_for(o.run, o.status, o.result, o.failure) for o in outcomes]


def rows_from_cache(store, runs, warn=None) -> list[ResultRow]:
    """Rows of ``runs`` as the cache has them, without training or evaluating anything. A
    corrupted result counts as missing, with one line through ``warn``."""
    rows = []
    for run in runs:
        run_dir = store.run(run.key)
        try:
            result = run_dir.result(deep=False)
        except CorruptFile as exc:
            result = None
            if warn is not None:
                warn(f"run '{run.label}' seed {run.seed} ({run.key}): {exc}; shown as missing")
        if result is not None:
            rows.append(row_for(run, "done", result))
        elif run_dir.failed_file.exists():
            rows.append(row_for(run, "failed", failure=run_dir.failure_or_none()))
        else:
            rows.append(row_for(run, "missing"))
    return rows

