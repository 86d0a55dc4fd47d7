"""JSON and CSV for scripts.

JSON is a list: first one object per run (every seed, as before), then one aggregate object per
loss setting, told apart by ``"seed": null`` and an ``"aggregate"`` key (mean at the top level,
std with ddof=1, n, seeds, min, max; ``"versus_baseline"`` with ``--baseline``), and with
``--paper`` the paper's matching rows (``"status": "paper"``). Every run and aggregate object
carries its loss ``params``, its ``identity`` (device, threads, ...) and its ``deviations`` from
the suite as written (``[]`` for a run of the suite as written). A run of a known loss family
also has ``accuracy`` (the classifier's top-1; null for an embedding-only loss),
``accuracy_applicable`` and ``accuracy_is`` (what the number is).

CSV stays one line per run: one ``param.<name>`` column per loss parameter (empty where a loss
has no such parameter), the metrics (the classifier's accuracy under a header that says what it
is, ``n/a`` for embedding-only losses), one ``identity.<name>`` column per identity field, and a
``deviations`` column (the notes joined by "; ", empty for the suite as written).
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from modbench.render.safe_text import csv_text as safe_csv
from modbench.results.rows import ACCURACY, ACCURACY_LABEL, NOT_APPLICABLE, ResultRow, accuracy_applicable

CSV_FIELDS = ["suite", "dataset", "backbone", "loss", "label", "seed", "status", "run"]
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


def _csv_value(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


def rows_csv(rows: list[ResultRow], metrics: list[str]) -> str:
    params = list(dict.fromkeys(k for r in rows for k in r.params))
    identity = list(dict.fromkeys(k for r in rows for k in r.identity))
    metric_fields = [ACCURACY_CSV if m == ACCURACY else m for m in metrics]
    fields = CSV_FIELDS + [f"param.{p}" for p in params] + metric_fields + [f"identity.{k}" for k in identity] + ["deviations"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        record = row.record()
        record.update({f"param.{k}": _csv_value(v) for k, v in row.params.items()})
        record.update({f"identity.{k}": _csv_value(v) for k, v in row.identity.items()})
        record["deviations"] = "; ".join(d.text for d in row.deviations)
        if ACCURACY in metrics:  # n/a for an embedding-only loss (no classifier), never 0
            applicable = accuracy_applicable(row.result)
            record[ACCURACY_CSV] = NOT_APPLICABLE if applicable is False else record.get(ACCURACY)
        writer.writerow({k: safe_csv(v) for k, v in record.items() if k in fields})
    return buffer.getvalue()
