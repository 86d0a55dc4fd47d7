"""The built-in class-disjoint suite ``fashion-mnist-disjoint`` on the real Fashion-MNIST
(Debian's ``dataset-fashion-mnist``; skipped without it, saying why): one short run (one epoch,
20 training images per class, 50 test images per class, seed 0) of cross-entropy, whose outputs must make
sense: the training and test classes are the suite's halves, disjoint, every metric in [0, 1],
no classifier accuracy, and the protocol recorded in the run and in the report."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from modbench.cache.store import RunStore
from modbench.cli.app import app
from modbench.datasets import fashion_mnist

pytestmark = pytest.mark.realdata

FOLDER = fashion_mnist.DEBIAN_DIR
if not all((FOLDER / f"{f}.gz").is_file() for f in fashion_mnist.RAW_FILES):
    pytest.skip(
        f"real Fashion-MNIST not installed: {FOLDER} lacks the four .gz files "
        "(apt-get install dataset-fashion-mnist; .ci/run does this where apt-get is available)",
        allow_module_level=True,
    )

FIRST_HALF = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat"]  # Zalando's labels 0-4
SECOND_HALF = ["Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]  # labels 5-9
SHORT = ["--epochs", "1", "--subset", "20", "--test-subset", "50", "--seed", "0"]


def test_one_short_class_disjoint_run_on_the_real_data(tmp_path):
    runner = CliRunner()
    cache = tmp_path / "cache"
    args = ["--suite", "fashion-mnist-disjoint", "--cache-dir", str(cache), *SHORT]
    done = runner.invoke(app, ["train", *args, "--loss", "Cross-entropy", "--device", "cpu"])
    assert done.exit_code == 0, done.stderr
    runs = RunStore(cache).all_runs()
    assert len(runs) == 1
    for run_dir in runs:
        _check(run_dir.result())

    out = runner.invoke(app, ["report", *args, "--json"])
    assert out.exit_code == 0, out.stderr
    records = [r for r in json.loads(out.stdout) if r["label"] == "Cross-entropy"]
    assert records and {r["protocol"] for r in records} == {
        "class-disjoint (train 3, validation 2, test 5 classes)"}


def _check(result: dict) -> None:
    info = result["data"]["info"]
    sides = info["classes_by_side"]
    assert info["protocol"] == "class-disjoint" and info["fixture"] is False
    assert sorted(sides["train"]["names"] + sides["val"]["names"]) == sorted(FIRST_HALF)
    assert sides["test"]["names"] == SECOND_HALF
    assert len(sides["val"]["names"]) == 2 and len(sides["train"]["names"]) == 3
    assert result["data"]["test"] == 5 * 50 and info["test_subset"] == 50
    assert result["data"]["train"] == 3 * 20
    assert "accuracy" not in result["metrics"]
    metrics = result["metrics"]
    assert {"recall@1", "map@r", "nmi"} <= set(metrics)
    assert all(0.0 <= v <= 1.0 for v in metrics.values())
    # Above chance: five equally frequent unseen classes, a random embedding's Recall@1 is ~0.2.
    assert metrics["recall@1"] > 0.3
