"""Expanding a suite into runs: sweeps, de-duplication, overrides and the run key."""

from __future__ import annotations

import copy

import pytest

from modbench.suite.loader import SuiteError, load_suite
from modbench.suite.runs import apply_overrides, config_key, resolve_runs

from helpers import TINY_SUITE


def load(write_suite, data):
    return load_suite(str(write_suite(data)))


def test_one_run_per_loss_and_seed(write_suite):
    data = copy.deepcopy(TINY_SUITE)
    data["seeds"] = [0, 1]
    suite, source = load(write_suite, data)
    runs = resolve_runs(suite, source)
    assert [(r.label, r.seed) for r in runs] == [
        ("CE", 0), ("CE", 1), ("New loss", 0), ("New loss", 1), ("Triplet", 0), ("Triplet", 1)
    ]
    assert len({r.key for r in runs}) == 6


def test_sweep_grid_labels_and_dedupe(write_suite):
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = [
        {"name": "improved", "params": {"beta": [2, 3, 4], "gamma": 3}},
        {"name": "improved", "params": {"beta": 4, "gamma": [3, 5]}},  # (4, 3) is a duplicate
    ]
    suite, source = load(write_suite, data)
    runs = resolve_runs(suite, source)
    assert [r.label for r in runs] == [
        "improved (beta=2)", "improved (beta=3)", "improved (beta=4)", "improved (gamma=5)"
    ]
    params = [(r.config["loss"]["params"]["beta"], r.config["loss"]["params"]["gamma"]) for r in runs]
    assert params == [(2.0, 3.0), (3.0, 3.0), (4.0, 3.0), (4.0, 5.0)]


def test_sweep_value_checked_per_combination(write_suite):
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = [{"name": "improved", "params": {"beta": [2, -1]}}]
    with pytest.raises(SuiteError, match=r"losses\[0\]\.params\.beta: .*sweep combination"):
        load(write_suite, data)


def test_empty_sweep_refused(write_suite):
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = [{"name": "improved", "params": {"beta": []}}]
    with pytest.raises(SuiteError, match="at least one value"):
        load(write_suite, data)


def test_key_ignores_labels_and_suite_name_but_not_settings(write_suite):
    suite, source = load(write_suite, TINY_SUITE)
    base = {r.loss: r.key for r in resolve_runs(suite, source)}
    renamed = copy.deepcopy(TINY_SUITE)
    renamed["name"] = "other"
    renamed["losses"][0]["label"] = "Cross-entropy!"
    s2, src2 = load(write_suite, renamed)
    assert {r.loss: r.key for r in resolve_runs(s2, src2)} == base
    s3 = apply_overrides(suite, epochs=5)
    assert {r.loss: r.key for r in resolve_runs(s3, source)}.keys() == base.keys()
    assert all(r.key != base[r.loss] for r in resolve_runs(s3, source))
    s4 = apply_overrides(suite, subset=3)
    assert all(r.key != base[r.loss] for r in resolve_runs(s4, source))


def test_defaults_are_part_of_the_key(write_suite):
    """Writing a default explicitly is the same run as leaving it out."""
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = [{"name": "improved"}]
    explicit = copy.deepcopy(data)
    explicit["losses"] = [{"name": "improved", "params": {"beta": 4.0, "gamma": 5.0}}]
    a = resolve_runs(*load(write_suite, data))
    b = resolve_runs(*load(write_suite, explicit))
    assert a[0].key == b[0].key == config_key(a[0].config)


def test_loss_filter_by_name_or_label(write_suite):
    suite, source = load(write_suite, TINY_SUITE)
    assert [r.loss for r in resolve_runs(suite, source, losses=["triplet"])] == ["triplet"]
    assert [r.loss for r in resolve_runs(suite, source, losses=["New loss"])] == ["improved"]
    with pytest.raises(Exception, match="did you mean 'triplet'"):
        resolve_runs(suite, source, losses=["triplt"])
