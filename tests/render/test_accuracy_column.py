"""The classifier's top-1 accuracy in every output: shown for softmax-family losses, labelled as
not comparable with embedding-only losses, and "n/a" (JSON null), never 0, for the others."""

from __future__ import annotations

import csv
import io
import json

import pytest

from modbench.render.layout import accuracy_table, suite_tables
from modbench.render.records import ACCURACY_CSV, rows_csv, rows_json
from modbench.results.aggregate import aggregate_record, group_rows
from modbench.results.rows import ACCURACY_LABEL

from results.factory import METRICS, make_row


def _rows():
    ce = [make_row("Cross-entropy", loss="cross-entropy", seed=s, metrics={**METRICS, "accuracy": a},
                   result_extra={"family": "softmax"}) for s, a in ((0, 0.8), (1, 0.9))]
    triplet = [make_row("Triplet loss", loss="triplet", seed=s, metrics=METRICS,
                        result_extra={"family": "embedding"}) for s in (0, 1)]
    return ce + triplet


def test_the_table_shows_the_mean_for_softmax_losses_and_na_for_embedding_losses():
    groups = group_rows(_rows())
    table = accuracy_table(groups, "s")
    assert table.header[-1] == "Top-1 accuracy (classifier)"
    cells = {row[0]: row[-1] for row in table.rows}
    assert cells["Cross-entropy"] == "0.850 ± 0.071"  # mean and sample std of 0.8, 0.9
    assert cells["Triplet loss"] == "n/a (no classifier)" and "0.000" not in cells["Triplet loss"]
    assert any(ACCURACY_LABEL in note for note in table.notes)
    assert [t.title for t in suite_tables(groups, "s")][-1] == "Classifier accuracy — s"


def test_no_table_without_an_accuracy():
    rows = [make_row("Triplet loss", metrics=METRICS, result_extra={"family": "embedding"})]
    assert accuracy_table(group_rows(rows), "s") is None
    assert [t.title.split(" — ")[0] for t in suite_tables(group_rows(rows), "s")] == ["Table 1 layout", "Table 2 layout"]


def test_json_runs_and_aggregates_say_what_the_number_is_and_null_where_not_applicable():
    rows = _rows()
    records = json.loads(rows_json(rows, [aggregate_record(g) for g in group_rows(rows)]))
    by = {(r["label"], r["seed"]): r for r in records}
    assert by[("Cross-entropy", 0)]["accuracy"] == 0.8 and by[("Cross-entropy", 0)]["accuracy_applicable"] is True
    assert by[("Triplet loss", 0)]["accuracy"] is None and by[("Triplet loss", 0)]["accuracy_applicable"] is False
    assert by[("Cross-entropy", None)]["accuracy"] == pytest.approx(0.85)
    assert by[("Triplet loss", None)]["accuracy"] is None and by[("Triplet loss", None)]["accuracy_applicable"] is False
    assert all(r["accuracy_is"] == ACCURACY_LABEL for r in records)


def test_csv_header_says_what_the_number_is_and_embedding_rows_say_na():
    rows = _rows()
    text = rows_csv(rows, ["nmi", "accuracy"])
    lines = list(csv.DictReader(io.StringIO(text)))
    assert ACCURACY_CSV in lines[0] and ACCURACY_LABEL in ACCURACY_CSV
    values = {(r["label"], r["seed"]): r[ACCURACY_CSV] for r in lines}
    assert values[("Cross-entropy", "0")] == "0.8" and values[("Triplet loss", "0")] == "n/a"
