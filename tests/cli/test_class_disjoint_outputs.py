"""A class-disjoint suite end to end on digits (one epoch): the run trains over its training
classes only, no classifier accuracy is measured on classes the classifier never saw, and every
output (result.json, JSON, CSV, Markdown, the Rich tables) says which protocol was used, with the
class counts; the closed-set run of the same suite is another run (another key)."""

from __future__ import annotations

import copy
import csv
import io
import json

import pytest

from modbench.cache.store import RunStore
from modbench.suite.loader import load_suite
from modbench.suite.runs import resolve_runs

from helpers import TINY_SUITE

DISJOINT_TEXT = "class-disjoint (train 3, validation 2, test 5 classes)"


def _suite(split="class-disjoint"):
    data = copy.deepcopy(TINY_SUITE)
    data["dataset"]["split"] = split
    data["losses"] = [data["losses"][0], data["losses"][2]]  # cross-entropy, triplet
    data["train"]["epochs"] = 1
    return data


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from typer.testing import CliRunner

    from modbench.cli.app import app

    root = tmp_path_factory.mktemp("disjoint")
    path = root / "suite.yaml"
    import yaml

    path.write_text(yaml.safe_dump(_suite(), sort_keys=False))
    cache = root / "cache"
    runner = CliRunner()

    def cli(*args):
        return runner.invoke(app, [str(a) for a in args])

    done = cli("train", "--suite", path, "--cache-dir", cache, "--device", "cpu")
    assert done.exit_code == 0, done.stderr
    return cli, path, cache


def test_the_run_records_its_protocol_and_no_accuracy(trained):
    _, path, cache = trained
    suite, source = load_suite(str(path))
    store = RunStore(cache)
    for run in resolve_runs(suite, source):
        result = store.run(run.key).result()
        info = result["data"]["info"]
        assert info["protocol"] == "class-disjoint"
        sides = info["classes_by_side"]
        assert set(sides["train"]["ids"]).isdisjoint(sides["test"]["ids"])
        assert set(sides["val"]["ids"]).isdisjoint(sides["train"]["ids"] + sides["test"]["ids"])
        assert "accuracy" not in result["metrics"]
        assert result["metrics"] and all(0.0 <= v <= 1.0 for v in result["metrics"].values())


def test_json_csv_markdown_and_rich_say_which_protocol(trained):
    cli, path, cache = trained
    out = cli("report", "--suite", path, "--cache-dir", cache, "--json")
    assert out.exit_code == 0, out.stderr
    records = json.loads(out.stdout)
    assert {r["protocol"] for r in records} == {DISJOINT_TEXT}
    ce = next(r for r in records if r["label"] == "CE" and r["seed"] is not None)
    assert ce["accuracy"] is None and ce["accuracy_applicable"] is False

    out = cli("report", "--suite", path, "--cache-dir", cache, "--csv")
    assert {row["protocol"] for row in csv.DictReader(io.StringIO(out.stdout))} == {DISJOINT_TEXT}

    out = cli("report", "--suite", path, "--cache-dir", cache, "--markdown")
    assert out.exit_code == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "**Protocol**: class-disjoint: 3 training classes" in text
    assert "5 test classes, never seen in training (" in text
    assert f"Protocol: {DISJOINT_TEXT}: the test classes are never seen in training" in text
    assert "closed-set" not in text

    out = cli("report", "--suite", path, "--cache-dir", cache)
    assert out.exit_code == 0, out.stderr
    assert "class-disjoint (train 3, validation 2, test 5" in " ".join(out.stdout.split())


def test_the_protocol_is_part_of_the_run_key(write_suite):
    closed = resolve_runs(*load_suite(str(write_suite(_suite("closed"), "c.yaml"))))
    disjoint = resolve_runs(*load_suite(str(write_suite(_suite(), "d.yaml"))))
    listed = resolve_runs(*load_suite(str(write_suite(
        _suite({"mode": "class-disjoint", "train_classes": [0, 1, 2, 3, 4]}), "l.yaml"))))
    spelled = resolve_runs(*load_suite(str(write_suite(
        _suite({"mode": "class-disjoint", "seed": 0, "train_fraction": 0.5}), "s.yaml"))))
    keys = [{r.key for r in runs} for runs in (closed, disjoint, listed)]
    assert keys[0].isdisjoint(keys[1]) and keys[1].isdisjoint(keys[2]) and keys[0].isdisjoint(keys[2])
    assert {r.key for r in spelled} == keys[1]  # the defaults spelled out: the same runs
    assert "split" not in closed[0].config["dataset"]


def test_a_closed_set_run_configuration_is_what_it_was():
    # Computed by the code before dataset.split existed (the resolved configuration's hash
    # without its "code" entry, which changes with every edit of the engine or dataset files).
    from modbench.suite.loader import parse_suite
    from modbench.suite.runs import config_key

    run = resolve_runs(parse_suite(copy.deepcopy(TINY_SUITE), "tiny"), "tiny")[0]
    config = {k: v for k, v in run.config.items() if k != "code"}
    assert config["dataset"] == {"name": "digits", "subset": 12, "val_fraction": 0.1, "split_seed": 0, "labels": None}
    assert config_key(config) == "3a1935b1318681714471"


@pytest.mark.parametrize(
    ("split", "fragment"),
    [
        ({"mode": "closed", "seed": 1}, "applies to mode: class-disjoint only"),
        ({"mode": "class-disjoint", "train_classes": [1], "seed": 2}, "draws the classes"),
        ({"mode": "class-disjoint", "train_classes": [1, 2], "test_classes": [2, 3]}, "in both train_classes"),
        ({"mode": "class-disjoint", "train_classes": []}, "at least 1 item"),
        ({"mode": "class-disjoint", "test_classes": [3, 3]}, "twice"),
        ("open-set", "'closed' or 'class-disjoint'"),
        ({"mode": "class-disjoint", "train_fraction": 1.5}, "less than 1"),
    ],
)
def test_schema_errors_are_one_line_exit_2(cli, write_suite, split, fragment):
    path = write_suite(_suite(split))
    out = cli("train", "--suite", path, "--device", "cpu")
    assert out.exit_code == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "dataset.split" in lines[0] and fragment in lines[0], out.stderr


def test_an_unknown_class_is_one_line_exit_2(cli, write_suite):
    path = write_suite(_suite({"mode": "class-disjoint", "train_classes": [0, 1, 2, 3, 11]}))
    out = cli("train", "--suite", path, "--device", "cpu", "--epochs", "1")
    assert out.exit_code == 2
    lines = out.stderr.strip().splitlines()
    assert "split.train_classes lists 11, which is not a class" in lines[-1], out.stderr
    assert "Traceback" not in out.stderr
