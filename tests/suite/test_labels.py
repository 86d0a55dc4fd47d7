"""A label is one configuration. Two entries whose own labels
would collide are refused at load; automatic labels are made distinct."""

from __future__ import annotations

import copy

import pytest

from modbench.suite.loader import SuiteError, load_suite
from modbench.suite.runs import resolve_runs

from helpers import TINY_SUITE


def runs_of(write_suite, losses, seeds=(0,)):
    data = copy.deepcopy(TINY_SUITE)
    data["losses"], data["seeds"] = losses, list(seeds)
    return resolve_runs(*load_suite(str(write_suite(data))))


def test_two_configurations_with_one_label_are_refused_naming_both(write_suite, cli):
    losses = [
        {"name": "improved", "label": "New loss", "params": {"beta": 4}},
        {"name": "improved", "label": "New loss", "params": {"beta": 2}},
    ]
    with pytest.raises(SuiteError) as info:
        runs_of(write_suite, losses)
    message = str(info.value)
    assert "\n" not in message
    assert "losses[1].label: 'New loss' is also the label of losses[0]" in message
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = losses
    result = cli("compare", "--suite", write_suite(data))
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "losses[0]" in result.stderr


def test_the_same_configurations_without_labels_get_distinct_labels(write_suite):
    runs = runs_of(write_suite, [{"name": "improved", "params": {"beta": 4}}, {"name": "improved", "params": {"beta": 2}}],
                   seeds=(0, 1))
    assert [(r.label, r.seed) for r in runs] == [
        ("improved (beta=4)", 0), ("improved (beta=4)", 1), ("improved (beta=2)", 0), ("improved (beta=2)", 1)
    ]
    by_label = {}
    for r in runs:  # every label stands for one configuration (the key without the seed)
        by_label.setdefault(r.label, set()).add(str({k: v for k, v in r.config.items() if k != "seed"}))
    assert all(len(configs) == 1 for configs in by_label.values())


def test_colliding_sweep_labels_show_every_parameter_that_differs(write_suite):
    runs = runs_of(write_suite, [
        {"name": "improved", "params": {"beta": [2, 4], "gamma": 3}},
        {"name": "improved", "params": {"beta": [2, 4], "gamma": 5}},
    ])
    assert [r.label for r in runs] == [
        "improved (beta=2, gamma=3)", "improved (beta=4, gamma=3)",
        "improved (beta=2, gamma=5)", "improved (beta=4, gamma=5)",
    ]


def test_an_automatic_label_gives_way_to_a_written_one(write_suite):
    runs = runs_of(write_suite, [
        {"name": "improved", "label": "improved", "params": {"beta": 4}},
        {"name": "improved", "params": {"beta": 2}},
    ])
    assert [r.label for r in runs] == ["improved", "improved (beta=2)"]


def test_one_label_over_a_split_sweep_is_fine(write_suite):
    runs = runs_of(write_suite, [
        {"name": "improved", "label": "New", "params": {"beta": [2, 3]}},
        {"name": "improved", "label": "New", "params": {"beta": [4, 5]}},
    ])
    assert [r.label for r in runs] == ["New (beta=2)", "New (beta=3)", "New (beta=4)", "New (beta=5)"]


def test_a_written_label_that_is_another_losss_name_is_refused(write_suite):
    with pytest.raises(SuiteError, match=r"losses\[1\]: its label 'triplet' is also the label of losses\[0\], another loss"):
        runs_of(write_suite, [{"name": "cross-entropy", "label": "triplet"}, {"name": "triplet"}])


def test_identical_settings_are_still_one_row(write_suite):
    runs = runs_of(write_suite, [{"name": "improved"}, {"name": "improved", "params": {"beta": 4, "gamma": 5}}])
    assert [r.label for r in runs] == ["improved"]
