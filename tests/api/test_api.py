"""The Python API (modbench/api.py): the same runs, cache, validation and errors as the CLI."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest

import modbench
from helpers import TINY_SUITE
from modbench.errors import UserError
from modbench.metrics import MetricError
from modbench.suite.loader import SuiteError


def _suite(**changes) -> dict:
    suite = copy.deepcopy(TINY_SUITE)
    suite["losses"] = suite["losses"][:2]  # cross-entropy and the paper's loss
    suite["dataset"]["subset"] = 4
    suite.update(changes)
    return suite


def test_import_is_torch_free():
    code = "import sys, modbench; modbench.compare; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_compare_equals_the_cli_json(cache_dir, cli, write_suite):
    suite = _suite()
    rows = modbench.compare(suite, epochs=1, cache_dir=cache_dir)
    per_run = [r for r in rows if r["seed"] is not None]
    assert [r["label"] for r in per_run] == ["CE", "New loss"]
    assert all(r["status"] == "done" and 0 <= r["recall@1"] <= 1 for r in per_run)
    # The command line, on the same suite and cache, trains nothing and prints the same rows.
    path = write_suite(suite)
    result = cli("compare", "--suite", path, "--epochs", "1", "--json", "--cache-dir", cache_dir)
    assert result.exit_code == 0, result.stderr
    assert "0 trained" not in result.stderr and "from the cache" in result.stderr
    assert json.loads(result.stdout) == rows


def test_suite_as_path_name_or_dict_is_one_run(cache_dir, write_suite, tmp_path):
    suite = _suite(losses=[{"name": "cross-entropy"}])
    first = modbench.train(suite, epochs=1, cache_dir=cache_dir)
    assert [r["status"] for r in first] == ["trained"]
    path = write_suite(suite)
    for ref in (path, str(path)):
        again = modbench.train(ref, epochs=1, cache_dir=cache_dir)
        assert again == [{**first[0], "status": "cached"}]
    named = modbench.train("digits", losses="cross-entropy", epochs=1, subset=2, cache_dir=cache_dir)
    assert named and {(r["loss"], r["status"]) for r in named} == {("cross-entropy", "trained")}


def test_report_equals_the_cli_report(cache_dir, cli, write_suite):
    suite = _suite(losses=[{"name": "cross-entropy", "label": "CE"}])
    path = write_suite(suite)
    modbench.train(path, epochs=1, cache_dir=cache_dir)
    rows = modbench.report(path, epochs=1, cache_dir=cache_dir)
    result = cli("report", "--suite", path, "--epochs", "1", "--json", "--cache-dir", cache_dir)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == rows and rows[0]["status"] == "done"
    markdown = modbench.report(path, format="markdown", epochs=1, cache_dir=cache_dir)
    result = cli("report", "--suite", path, "--epochs", "1", "--markdown", "--cache-dir", cache_dir)
    assert result.exit_code == 0 and markdown == result.stdout and "CE" in markdown
    csv = modbench.report(path, format="csv", epochs=1, cache_dir=cache_dir)
    result = cli("report", "--suite", path, "--epochs", "1", "--csv", "--cache-dir", cache_dir)
    assert result.exit_code == 0 and csv == result.stdout and csv.count("\n") == 2


@pytest.mark.parametrize("call,error,text", [
    (lambda s: modbench.compare({**s, "colour": 1}), SuiteError, "colour"),
    (lambda s: modbench.compare(s, epochs=0), UserError, "epochs"),
    (lambda s: modbench.compare(s, subset=-1), UserError, "subset"),
    (lambda s: modbench.compare(s, device="tpu"), UserError, "device"),
    (lambda s: modbench.compare(s, losses=["nope"]), UserError, "nope"),
    (lambda s: modbench.compare(s, baseline="nope"), UserError, "nope"),
    (lambda s: modbench.train({**s, "backbone": {"name": "resnet9"}}), SuiteError, "resnet9"),
    (lambda s: modbench.compare("no-such-suite"), UserError, "unknown suite 'no-such-suite'"),
    (lambda s: modbench.report(s, format="html"), UserError, "html"),
    (lambda s: modbench.compare(42), UserError, "suite"),
])
def test_bad_input_raises_the_cli_errors(call, error, text, cache_dir):
    with pytest.raises(error) as info:
        call(_suite())
    assert text in str(info.value) and "\n" not in str(info.value)
    assert not (cache_dir / "runs").exists()  # nothing trained


def _recall_at_1_naive(x: np.ndarray, y: np.ndarray) -> float:
    """From the definition: the nearest other sample (L2-normalised, Euclidean, lower index on
    ties) has the query's label."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    hits = 0
    for i in range(len(x)):
        d = np.linalg.norm(x - x[i], axis=1)
        d[i] = np.inf
        hits += y[int(np.argmin(d))] == y[i]
    return hits / len(x)


def test_evaluate_embeddings_numpy_and_torch():
    import torch

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 10)
    x = rng.normal(size=(40, 8)) + 2.0 * np.eye(8)[y]
    values = modbench.evaluate_embeddings(x, y, metrics=["recall@1", "nmi"])
    assert set(values) == {"recall@1", "nmi"}
    assert values["recall@1"] == pytest.approx(_recall_at_1_naive(x, y))
    assert 0 <= values["nmi"] <= 1
    same = modbench.evaluate_embeddings(torch.from_numpy(x), torch.from_numpy(y), "recall@1,nmi")
    assert same == pytest.approx(values)


@pytest.mark.parametrize("x,y,text", [
    (np.full((6, 2), np.nan), np.arange(6) % 2, "NaN"),
    (np.zeros((6, 2)), np.arange(5) % 2, "length"),
    (np.zeros(6), np.arange(6) % 2, "2-D"),
])
def test_evaluate_embeddings_bad_input(x, y, text):
    with pytest.raises(MetricError, match=text):
        modbench.evaluate_embeddings(x, y, metrics=["recall@1"])
    with pytest.raises(UserError):
        modbench.evaluate_embeddings(np.zeros((6, 2)), np.arange(6) % 2, metrics=["recall@3x"])


def test_a_dict_suite_reads_data_relative_to_the_current_directory(tmp_path, monkeypatch, cache_dir):
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 6)
    images = rng.integers(0, 255, size=(12, 8, 8), dtype=np.uint8)
    # 12 test images: the default metrics go up to recall@8, which needs more than 8 of them.
    np.savez(tmp_path / "mine.npz", train_images=images, train_labels=y, test_images=images,
             test_labels=y)
    monkeypatch.chdir(tmp_path)
    suite = _suite(dataset={"name": "npz", "path": "mine.npz"}, losses=[{"name": "cross-entropy"}])
    (row,) = modbench.train(suite, epochs=1, cache_dir=cache_dir)
    assert row["status"] == "trained"
    config = json.loads((cache_dir / "runs" / row["run"] / "config.json").read_text())
    assert config["dataset"]["path"] == str(tmp_path / "mine.npz")


def test_report_lists_a_suites_tuning_trials_as_the_cli_does(cache_dir, cli, write_suite):
    """A suite's tuning trials are cached runs of their own configuration; ``report`` shows them
    under "<suite> — tuning trials (validation)", and so must the API (it once did not)."""
    suite = _suite(losses=[{"name": "cross-entropy", "label": "CE"}])
    path = write_suite(suite)
    tuned = cli("tune", "--suite", path, "--epochs", "1", "--trials", "1", "--reselect-top", "0", "--device", "cpu",
                "--cache-dir", cache_dir, "--output", path.with_name("tuned.yaml"))
    assert tuned.exit_code == 0, tuned.stderr
    result = cli("report", "--suite", path, "--epochs", "1", "--json", "--cache-dir", cache_dir)
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    trials = [r for r in shown if r["suite"].endswith("tuning trials (validation)") and r["seed"] is not None]
    assert len(trials) == 1 and trials[0]["status"] == "done"
    assert modbench.report(path, epochs=1, cache_dir=cache_dir) == shown
    markdown = cli("report", "--suite", path, "--epochs", "1", "--markdown", "--cache-dir", cache_dir)
    assert modbench.report(path, format="markdown", epochs=1, cache_dir=cache_dir) == markdown.stdout
