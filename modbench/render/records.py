"""JSON and CSV for scripts.

JSON is a list: first one object per run (every seed, as before), then one aggregate object per
loss setting, told apart by ``"seed": null`` and an ``"aggregate"`` key (mean at the top level,
std with ddof=1, n, seeds, min, max; ``"verdict"`` and ``"secondary"`` against the baseline), and with
``--paper`` the paper's matching rows (``"status": "paper"``). Every run and aggregate object
carries its loss ``params``, its ``identity`` (device, threads, ...) and its ``deviations`` from
the suite as written (``[]`` for a run of the suite as written). A run of a known loss family
also has ``accuracy`` (the classifier's top-1; null for an embedding-only loss),
``accuracy_applicable`` and ``accuracy_is`` (what the number is).

CSV stays one line per run: one ``param.<name>`` column per loss parameter (empty where a loss
has no such parameter), the metrics (the classifier's accuracy under a header that says what it
is, ``n/a`` for embedding-only losses), one ``identity.<name>`` column per identity field, a
``deviations`` column (the notes joined by "; ", empty for the suite as written), and, with a
verdict table, the ``verdict.*`` columns of the run's loss setting (``VERDICT_CSV``: the primary
contrast against the baseline; ``verdict`` is ``baseline`` on the baseline's lines).
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from modbench.render.safe_text import csv_text as safe_csv
from modbench.results.rows import ACCURACY, ACCURACY_LABEL, NOT_APPLICABLE, ResultRow, accuracy_applicable

CSV_FIELDS = ["suite", "dataset", "protocol", "backbone", "loss", "label", "seed", "status", "run"]
# The classifier's accuracy column says what it is in its header (CSV has no notes).
ACCURACY_CSV = f"{ACCURACY} ({ACCURACY_LABEL})"


def json_safe(obj: Any) -> Any:
    """``obj`` with every non-finite float (NaN, inf) replaced by None: strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def rows_json(rows: list[ResultRow], extra: list[dict[str, Any]] | None = None) -> str:
    """The run objects, then ``extra`` (aggregate and paper objects)."""
    records = [r.record() for r in rows] + list(extra or [])
    return json.dumps(json_safe(records), indent=2, allow_nan=False) + "\n"


VERDICT_CSV = ["verdict", "verdict.metric", "verdict.baseline", "verdict.delta", "verdict.ci_low", "verdict.ci_high",
               "verdict.confidence", "verdict.p", "verdict.p_holm", "verdict.seeds", "verdict.seeds_needed",
               "verdict.margin", "verdict.alpha", "verdict.rho", "verdict.noise"]


def verdict_csv_fields(sv, label: str) -> dict[str, Any]:
    """The ``verdict.*`` CSV columns of loss setting ``label`` in ``sv`` (``SuiteVerdicts``)."""
    s = sv.settings
    base = {"verdict.metric": s.metric, "verdict.baseline": sv.baseline, "verdict.margin": s.margin,
            "verdict.alpha": s.alpha}
    if label == sv.baseline:
        return {**base, "verdict": "baseline"}
    v = sv.verdict_of(label)
    if v is None:
        return base
    c = v.contrast
    fields = {
        **base,
        "verdict": ("no records" if c.n_seeds else "no seeds") if label in sv.missing else v.verdict,
        "verdict.delta": c.delta, "verdict.ci_low": v.ci_low, "verdict.ci_high": v.ci_high,
        "verdict.confidence": v.confidence, "verdict.p": v.p, "verdict.p_holm": v.p_holm,
        "verdict.seeds": c.n_seeds, "verdict.seeds_needed": v.seeds_needed, "verdict.rho": c.rho,
        "verdict.noise": c.noise,
    }
    return {k: (None if isinstance(x, float) and not math.isfinite(x) else x) for k, x in fields.items()}


def _csv_value(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


def rows_csv(rows: list[ResultRow], metrics: list[str], verdicts: dict[str, dict] | None = None) -> str:
    """``verdicts``: run key -> its ``verdict_csv_fields`` (the columns appear when any run has them)."""
    verdicts = verdicts or {}
    params = list(dict.fromkeys(k for r in rows for k in r.params))
    identity = list(dict.fromkeys(k for r in rows for k in r.identity))
    metric_fields = [ACCURACY_CSV if m == ACCURACY else m for m in metrics]
    fields = CSV_FIELDS + [f"param.{p}" for p in params] + metric_fields + [f"identity.{k}" for k in identity] + ["deviations"]
    if verdicts:
        fields = fields[:len(CSV_FIELDS)] + VERDICT_CSV + fields[len(CSV_FIELDS):]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        record = row.record()
        record.update({f"param.{k}": _csv_value(v) for k, v in row.params.items()})
        record.update({f"identity.{k}": _csv_value(v) for k, v in row.identity.items()})
        record["deviations"] = "; ".join(d.text for d in row.deviations)
        record.update(verdicts.get(row.key, {}))
        if ACCURACY in metrics:  # n/a for an embedding-only loss (no classifier), never 0
            applicable = accuracy_applicable(row.result)
            record[ACCURACY_CSV] = NOT_APPLICABLE if applicable is False else record.get(ACCURACY)
        writer.writerow({k: safe_csv(v) for k, v in record.items() if k in fields})
    return buffer.getvalue()
