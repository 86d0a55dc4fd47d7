"""JSON and CSV for scripts.

JSON is a list: first one object per run (every seed, as before), then one aggregate object per
loss setting, told apart by ``"seed": null`` and an ``"aggregate"`` key (mean at the top level,
std with ddof=1, n, seeds, min, max; ``"versus_baseline"`` with ``--baseline``), and with
``--paper`` the paper's matching rows (``"status": "paper"``). CSV stays one line per run.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from modbench.results.rows import ResultRow

CSV_FIELDS = ["suite", "dataset", "backbone", "loss", "label", "seed", "status", "run"]


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


def rows_csv(rows: list[ResultRow], metrics: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS + list(metrics), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row.record())
    return buffer.getvalue()
