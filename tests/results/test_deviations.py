"""Every output of compare, eval and report states how its rows differ from the suite as
written: overridden epochs and subset (a training subset; the test split stays whole), a test
subset (a smoke run's, named even where the suite writes it), fixture data. A run of the suite as written states none."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from modbench.cache.store import RunStore
from modbench.cli.app import app
from modbench.results.deviations import config_deviations, result_deviations
from results.factory import config, suite_runs, write_cached

NOTE = "Differs from the suite as written"
TINY = ["--epochs", "1", "--subset", "5", "--test-subset", "3", "--seed", "0", "--device", "cpu"]


def test_config_deviations_key_by_key():
    written = {k: v for k, v in config().items() if k in ("dataset", "backbone", "train")}
    assert config_deviations(config(), written) == []
    devs = config_deviations(config(subset=5, train={"epochs": 2, "lr": 0.1}), written, {"data": {"test": 40}})
    assert [d.key for d in devs] == ["dataset.subset", "train.lr", "train.epochs"]
    assert devs[0].text.startswith("subset: at most 5 training images per class (the suite says the full training set)")
    assert devs[0].text.endswith("the test split stays whole")
    assert devs[2].text == "epochs 2 (the suite says 70)" and devs[2].short == "epochs 2"
    assert devs[1].record() == {"key": "train.lr", "value": 0.1, "suite": 1e-05, "note": "train.lr 0.1 (the suite says 1e-05)"}


def test_test_subset_is_a_deviation_even_where_the_suite_writes_it():
    written = {k: v for k, v in config().items() if k in ("dataset", "backbone", "train")}
    (dev,) = config_deviations(config(test_subset=4), written, {"data": {"test": 40}})
    assert dev.key == "dataset.test_subset" and dev.short == "test subset 4"
    assert dev.text.startswith("test subset: at most 4 test images per class, here 40 test images "
                               "(the suite says the whole test split)")
    assert "the protocol measures every number on the whole test split" in dev.text
    smoke = {**written, "dataset": {**written["dataset"], "test_subset": 4}}
    (dev,) = config_deviations(config(test_subset=4), smoke, {"data": {"test": 40}})
    assert dev.key == "dataset.test_subset" and "(as the suite says)" in dev.text
    (dev,) = config_deviations(config(), smoke)
    assert dev.text == "the whole test split (the suite says test subset 4)"


def test_fixture_data_is_a_deviation():
    assert result_deviations({"data": {"info": {"fixture": False}}}) == []
    (dev,) = result_deviations({"data": {"train": 2, "info": {"fixture": True, "source": "x"}}})
    assert dev.key == "data.fixture" and "the numbers measure nothing" in dev.text


@pytest.fixture(scope="module")
def digits_cache(tmp_path_factory):
    """digits trained for real at --epochs 1 --subset 5 --test-subset 3, one seed (a few seconds)."""
    cache = tmp_path_factory.mktemp("dev-cache")
    result = CliRunner().invoke(app, ["compare", "--suite", "digits", *TINY, "--cache-dir", str(cache)])
    assert result.exit_code == 0, result.output
    return cache, result


def assert_names_the_overrides(text):
    assert "epochs 1 (the suite says 30)" in text
    assert "subset: at most 5 training images per class" in text and "the test split stays whole" in text
    assert "test subset: at most 3 test images per class, here 30 test images" in text


def test_compare_names_the_override_in_every_format(digits_cache):
    cache, table = digits_cache
    assert_names_the_overrides(table.stdout)
    assert "Table 1 layout — digits (subset 5, test subset 3, epochs 1)" in table.stdout
    for flag in ("--markdown", "--json"):
        result = CliRunner().invoke(app, ["compare", "--suite", "digits", *TINY, "--cache-dir", str(cache), flag])
        assert result.exit_code == 0, result.output
        assert_names_the_overrides(result.stdout)
    data = json.loads(result.stdout)
    assert all({d["key"] for d in r["deviations"]} == {"train.epochs", "dataset.subset", "dataset.test_subset"} for r in data)


def test_eval_names_the_override(digits_cache):
    cache, _ = digits_cache
    for flags in ([], ["--json"]):
        result = CliRunner().invoke(app, ["eval", "--suite", "digits", *TINY, "--cache-dir", str(cache), *flags])
        assert result.exit_code == 0, result.output
        assert_names_the_overrides(result.stdout)


def test_report_names_the_override_in_every_format(digits_cache):
    cache, _ = digits_cache
    for flags in ([], ["--markdown"], ["--json"], ["--csv"]):
        result = CliRunner().invoke(app, ["report", "--cache-dir", str(cache), *flags])
        assert result.exit_code == 0, result.output
        assert_names_the_overrides(result.stdout)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert all("epochs 1 (the suite says 30)" in r["deviations"] for r in rows)


def test_the_suite_as_written_names_none(tmp_path):
    """digits as written (30 epochs, full data), cached by hand: no note anywhere."""
    store = RunStore(tmp_path / "cache")
    for run in suite_runs("digits"):
        write_cached(store, run, data={"train": 1293, "val": 144, "test": 360, "info": {"fixture": False}})
    for flags in ([], ["--markdown"], ["--json"], ["--csv"]):
        result = CliRunner().invoke(app, ["report", "--suite", "digits", "--cache-dir", str(store.root), *flags])
        assert result.exit_code == 0, result.output
        assert NOTE not in result.stdout and "the suite says" not in result.stdout
    assert all(r["deviations"] == "" for r in csv.DictReader(io.StringIO(result.stdout)))
    data = json.loads(CliRunner().invoke(app, ["report", "--suite", "digits", "--cache-dir", str(store.root), "--json"]).stdout)
    assert all(r["deviations"] == [] for r in data)


def test_compare_of_a_suite_as_written_names_none(tmp_path):
    suite = tmp_path / "quick.yaml"
    suite.write_text(
        "name: quick\ndataset: {name: digits, subset: 5}\nbackbone: {name: small-cnn, embedding_dim: 8}\n"
        "train: {epochs: 1, batch_size: 16, lr: 1.0e-3}\nseeds: [0]\nlosses:\n  - {name: cross-entropy}\n"
    )
    args = ["compare", "--suite", str(suite), "--device", "cpu", "--cache-dir", str(tmp_path / "c")]
    for flags in ([], ["--markdown"], ["--json"]):
        result = CliRunner().invoke(app, [*args, *flags])
        assert result.exit_code == 0, result.output
        assert NOTE not in result.stdout


def test_seeds_beyond_the_suite_are_named_in_one_note_and_share_the_rows():
    from modbench.results.deviations import annotate
    from modbench.results.summary import summarize_rows
    from results.factory import make_row

    written = {k: v for k, v in config().items() if k in ("dataset", "backbone", "train")}
    written["seeds"] = [0]
    rows = annotate([make_row("A", seed=s, metrics={"nmi": 0.5}) for s in (0, 1, 2)], {"s": written})
    (summary,) = summarize_rows(rows)  # one section: extra seeds are no other experiment
    assert summary.title == "s" and summary.groups[0].n_done == 3
    from modbench.results.deviations import note

    assert note(summary.deviations) == "Differs from the suite as written: seeds 1, 2 (the suite lists 0)."


def test_report_names_fixture_data_in_every_format(tmp_path):
    store = RunStore(tmp_path / "cache")
    for run in suite_runs("digits"):
        write_cached(store, run, data={"train": 4, "val": 1, "test": 2, "info": {"fixture": True}})
    for flags in ([], ["--markdown"], ["--json"], ["--csv"]):
        result = CliRunner().invoke(app, ["report", "--suite", "digits", "--cache-dir", str(store.root), *flags])
        assert result.exit_code == 0, result.output
        assert "fixture data" in result.stdout and "the numbers measure nothing" in result.stdout
