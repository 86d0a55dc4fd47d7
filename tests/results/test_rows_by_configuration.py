"""A table row is one configuration and one run identity: runs that
differ in anything but the seed never share a row, whatever their labels say."""

from __future__ import annotations

import io

import numpy as np
import pytest
from rich.console import Console

from modbench.render.layout import table1
from modbench.render.records import rows_csv, rows_json
from modbench.render.rich_tables import print_tables
from modbench.results.aggregate import group_rows
from results.factory import make_row


def sweep_rows():
    """``improved`` at beta 4 and at beta 2, both labelled "New loss", one seed each."""
    return [
        make_row("New loss", loss="improved", seed=0, params={"beta": 4, "gamma": 5}, metrics={"nmi": 0.49}),
        make_row("New loss", loss="improved", seed=0, params={"beta": 2, "gamma": 5}, metrics={"nmi": 0.46}),
    ]


def test_two_configurations_with_one_label_are_two_rows():
    groups = group_rows(sweep_rows())
    assert len(groups) == 2
    assert [g.n_done for g in groups] == [1, 1]
    assert [g.cell("nmi").mean for g in groups] == [0.49, 0.46]  # not averaged into 0.475
    # the labels say what tells the rows apart
    assert [g.label for g in groups] == ["New loss (beta=4)", "New loss (beta=2)"]
    assert [g.base_label for g in groups] == ["New loss", "New loss"]


def test_seeds_of_one_configuration_share_a_row():
    rows = [make_row("A", seed=s, metrics={"nmi": v}) for s, v in enumerate([0.5, 0.6, 0.7])]
    rows.append(make_row("A", seed=3, status="missing"))
    (group,) = group_rows(rows)
    assert group.seeds == [0, 1, 2] and group.n_total == 4
    assert group.cell("nmi").mean == pytest.approx(0.6)


def test_other_training_settings_are_other_rows():
    rows = [make_row("A", seed=0, metrics={"nmi": 0.5}), make_row("A", seed=1, train={"epochs": 2}, metrics={"nmi": 0.1})]
    groups = group_rows(rows)
    assert [g.label for g in groups] == ["A (train.epochs=70)", "A (train.epochs=2)"]


def identity_rows():
    """One configuration, two seeds per thread count: 1 thread and 2 threads."""
    rows = []
    for seed, (threads, nmi) in enumerate([(1, 0.95), (1, 0.96), (2, 0.94), (2, 0.93)]):
        rows.append(make_row("CE", loss="cross-entropy", seed=seed, metrics={"nmi": nmi, "f1": nmi},
                             result_extra={"device": "cpu", "cpu_threads": threads}))
    return rows


def test_runs_of_different_identity_never_average():
    groups = group_rows(identity_rows())
    assert len(groups) == 2
    assert [g.identity["cpu_threads"] for g in groups] == [1, 2]
    assert [g.cell("nmi").mean for g in groups] == [pytest.approx(0.955), pytest.approx(0.935)]


def test_recorded_identity_object_wins_and_old_results_still_render():
    numerics = {"device": "cuda", "precision": "bf16-autocast", "cpu_threads": None}
    new = make_row("CE", seed=0, metrics={"nmi": 0.9}, result_extra={"device": "cuda:0", "cpu_threads": 8, "numerics": numerics})
    assert new.identity == {"device": "cuda", "precision": "bf16-autocast"}  # threads do not matter on CUDA
    other = make_row("CE", seed=0, metrics={"nmi": 0.9}, result_extra={"identity": {"device": "cpu", "digest": "abc"}})
    assert other.identity == {"device": "cpu", "digest": "abc"}
    old = make_row("CE", seed=1, metrics={"nmi": 0.8})  # no identity recorded at all
    assert old.identity == {}
    assert len(group_rows([new, old])) == 2


def test_tables_show_the_identity_where_rows_differ_in_it():
    t = table1(group_rows(identity_rows()), "s")
    assert "Run on" in t.header
    col = t.header.index("Run on")
    assert [r[col] for r in t.rows] == ["cpu_threads 1", "cpu_threads 2"]
    buffer = io.StringIO()
    print_tables(Console(file=buffer, width=120), [t])
    assert "cpu_threads 1" in buffer.getvalue() and "cpu_threads 2" in buffer.getvalue()
    # one identity: no column, the identity in a note
    same = table1(group_rows(identity_rows()[:2]), "s")
    assert "Run on" not in same.header
    assert "Measured with device cpu, cpu_threads 1." in same.notes


def test_json_and_csv_rows_carry_params_and_identity():
    import csv
    import json

    rows = sweep_rows()
    data = json.loads(rows_json(rows))
    assert [d["params"] for d in data] == [{"beta": 4, "gamma": 5}, {"beta": 2, "gamma": 5}]
    table = list(csv.DictReader(io.StringIO(rows_csv(rows + identity_rows()[:1], ["nmi"]))))
    assert [r["param.beta"] for r in table] == ["4", "2", ""]
    assert [r["param.gamma"] for r in table] == ["5", "5", ""]
    assert table[2]["identity.cpu_threads"] == "1" and table[0]["identity.cpu_threads"] == ""
    assert np.isclose(float(table[0]["nmi"]), 0.49)


def test_other_code_is_another_row():
    """The engine puts the code's digest in the configuration (config["code"])."""
    rows = []
    for seed, digest in enumerate(["a1b2c3d4e5f6a7b8c9d0", "0f9e8d7c6b5a4f3e2d1c"]):
        row = make_row("CE", seed=seed, metrics={"nmi": 0.5 + seed / 10})
        row.config["code"] = {"modbench": "0.1.0", "digest": digest}
        rows.append(row)
    groups = group_rows(rows)
    assert [g.label for g in groups] == ["CE (code.digest=a1b2c3d4e5f6)", "CE (code.digest=0f9e8d7c6b5a)"]
