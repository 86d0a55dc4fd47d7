"""Aggregation over seeds: mean, sample std (ddof=1), n; cells, Seeds column and JSON records."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modbench.render.cells import format_cell, format_seeds
from modbench.results.aggregate import aggregate_record, group_rows
from results.factory import make_row

NMI = [0.61, 0.64, 0.60]


def three_seeds(label="A", values=NMI, **kw):
    return [make_row(label, seed=s, metrics={"nmi": v, "f1": v / 2}, **kw) for s, v in enumerate(values)]


def test_group_cell_is_mean_and_sample_std():
    (group,) = group_rows(three_seeds())
    cell = group.cell("nmi")
    assert cell.n == 3
    assert cell.mean == pytest.approx(np.mean(NMI))
    assert cell.std == pytest.approx(np.std(NMI, ddof=1))
    assert group.seeds == [0, 1, 2]


def test_groups_keep_suite_and_loss_order():
    rows = three_seeds("B", suite="s1") + three_seeds("A", suite="s1") + three_seeds("A", suite="s2")
    groups = group_rows(rows)
    assert [(g.suite, g.label) for g in groups] == [("s1", "B"), ("s1", "A"), ("s2", "A")]
    assert [len(g.rows) for g in groups] == [3, 3, 3]


def test_cells_show_mean_std_and_n():
    (group,) = group_rows(three_seeds())
    assert format_cell(group, "nmi") == f"{np.mean(NMI):.3f} ± {np.std(NMI, ddof=1):.3f}"
    assert format_seeds(group) == "3"
    (single,) = group_rows([make_row("A", metrics={"nmi": 0.6})])
    assert format_cell(single, "nmi") == "0.600"  # one seed: no spread shown
    assert format_seeds(single) == "1"


def test_cells_with_missing_seeds_and_values():
    rows = three_seeds()
    rows[1].metrics["nmi"] = float("nan")  # undefined on this seed's data
    rows.append(make_row("A", seed=3, status="failed"))
    (group,) = group_rows(rows)
    assert format_seeds(group) == "3/4"
    kept = [NMI[0], NMI[2]]
    assert format_cell(group, "nmi") == f"{np.mean(kept):.3f} ± {np.std(kept, ddof=1):.3f} (n=2)"
    (failed,) = group_rows([make_row("F", status="failed")])
    assert format_cell(failed, "nmi") == "failed"
    (missing,) = group_rows([make_row("M", status="missing")])
    assert format_cell(missing, "nmi") == "—"
    assert format_seeds(missing) == "0/1"


def test_aggregate_record_keeps_run_fields_and_adds_spread():
    rows = three_seeds()
    (group,) = group_rows(rows)
    rec = aggregate_record(group)
    assert rec["seed"] is None and rec["run"] is None and rec["label"] == "A" and rec["status"] == "done"
    assert rec["nmi"] == pytest.approx(np.mean(NMI))
    agg = rec["aggregate"]
    assert agg["n"] == 3 and agg["listed"] == 3 and agg["seeds"] == [0, 1, 2]
    assert agg["std_ddof"] == 1
    assert agg["std"]["nmi"] == pytest.approx(np.std(NMI, ddof=1))
    assert agg["count"] == {"nmi": 3, "f1": 3}
    assert agg["min"]["nmi"] == min(NMI) and agg["max"]["nmi"] == max(NMI)
    assert agg["runs"] == [r.key for r in rows]
    (single,) = group_rows([make_row("A", metrics={"nmi": 0.6})])
    assert aggregate_record(single)["aggregate"]["std"]["nmi"] is None  # NaN -> null
    json.dumps(aggregate_record(single), allow_nan=False)
