"""JSON and CSV: one record per run (every seed), for scripts."""

from __future__ import annotations

import csv
import io
import json

from modbench.results.rows import ResultRow

CSV_FIELDS = ["suite", "dataset", "backbone", "loss", "label", "seed", "status", "run"]


def rows_json(rows: list[ResultRow]) -> str:
    return json.dumps([r.record() for r in rows], indent=2, allow_nan=True) + "\n"


def rows_csv(rows: list[ResultRow], metrics: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS + list(metrics), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row.record())
    return buffer.getvalue()
