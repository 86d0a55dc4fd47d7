"""``modbench report --markdown --plots --paper --baseline --output`` on a small fixed cache
(result.json and history.json written by the test, no training), against a golden file.

Regenerate the golden file after an intended change with
``MODBENCH_UPDATE_GOLDEN=1 python -m pytest tests/render/test_report_golden.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import modbench
from modbench.cache.store import RunStore
from modbench.cli.app import app
from modbench.suite.loader import load_suite
from modbench.suite.runs import resolve_runs

GOLDEN = Path(__file__).parent / "golden" / "report.md"

SUITE = """\
name: tiny-cifar10
description: A fixed two-seed cache for the golden report.
dataset:
  name: cifar10
  subset: 2
backbone:
  name: googlenet
  embedding_dim: 16
train:
  epochs: 3
  batch_size: 8
  lr: 1.0e-5
  weight_decay: 4.0e-4
  betas: [0.9, 0.999]
seeds: [0, 1]
losses:
  - name: triplet
    label: Triplet loss
  - name: improved
    label: New loss
    params: {beta: 4, gamma: 5}
  - name: cross-entropy
    label: Cross-entropy
"""

from results.factory import make_records  # noqa: E402

# Test-set metrics per label and seed: fixed numbers.
METRICS = {
    ("Triplet loss", 0): [0.41, 0.45, 0.50, 0.61, 0.73, 0.85],
    ("Triplet loss", 1): [0.43, 0.44, 0.54, 0.63, 0.74, 0.86],
    ("New loss", 0): [0.52, 0.55, 0.66, 0.72, 0.80, 0.90],
    ("New loss", 1): [0.50, 0.53, 0.64, 0.71, 0.81, 0.91],
    ("Cross-entropy", 0): [0.47, 0.49, 0.58, 0.66, 0.75, 0.84],
    # ("Cross-entropy", 1) is left out: a run not done yet
}
NAMES = ["nmi", "f1", "recall@1", "recall@2", "recall@4", "recall@8"]
VERSIONS = {"python": "3.11.0", "modbench": "0.0.0", "torch": "2.0.0", "scikit-learn": "1.3.0", "numpy": "1.26.0"}
INFO = {"distance": "euclidean", "normalized": True, "kmeans_implementation": "sklearn.cluster.KMeans (lloyd)",
        "kmeans_init": "k-means++", "kmeans_points": "all", "backend": "torch", "n": 20}


def records_for(level: float, seed: int):
    """Fixed per-query records of 40 test queries (4 per class) whose AP@R averages about ``level``."""
    ap = np.clip(level + np.random.default_rng(seed).normal(0, 0.1, 40) + 0.02 * np.arange(40) % 0.1, 0, 1)
    return make_records(ap, np.arange(40) % 10)


def build_cache(tmp_path: Path) -> tuple[Path, Path]:
    suite_file = tmp_path / "tiny.yaml"
    suite_file.write_text(SUITE)
    suite, source = load_suite(str(suite_file))
    store = RunStore(tmp_path / "cache")
    for i, run in enumerate(resolve_runs(suite, source)):
        values = METRICS.get((run.label, run.seed))
        if values is None:
            continue
        run_dir = store.run(run.key)
        run_dir.write_config(run.config)
        run_dir.write_history([
            {"epoch": e, "train_loss": 1.0 / e + 0.1 * i, "val": {"nmi": values[0] - 0.1 * (3 - e), "f1": values[1], "recall@1": values[2] - 0.05 * (3 - e)},
             "seconds": 0.5, "images_per_s": 100.0}
            for e in (1, 2, 3)
        ])
        run_dir.save_checkpoint({"epoch": 3})  # a result must point at a checksummed checkpoint
        if run.label != "Cross-entropy":  # per-query records for the verdicts; Cross-entropy's are missing
            run_dir.write_queries(records_for(values[2], run.seed))
        run_dir.write_result({
            "key": run.key, "config": run.config, "metrics": dict(zip(NAMES, values)), "metric_info": INFO,
            "eval": {"metrics": NAMES, "kmeans_seed": 0, "kmeans_n_init": 1, "val_metrics": ["nmi", "f1", "recall@1"]},
            "checkpoint": {"select": "last", "epoch": 3}, "epochs": 3, "train_seconds": 1.5, "device": "cpu",
            "data": {"train": 18, "val": 2, "test": 4}, "versions": VERSIONS,
            "date": f"2024-05-0{1 + i % 2}T12:00:00+00:00",
        })
    return suite_file, tmp_path / "cache"


@pytest.fixture
def report(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(modbench, "__version__", "0.0.0-test")
    suite_file, cache = build_cache(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "report", "--suite", str(suite_file), "--cache-dir", str(cache), "--markdown", "--paper",
        "--baseline", "triplet", "--plots", str(tmp_path / "plots"), "--output", str(out / "report.md"),
    ])
    assert result.exit_code == 0, result.output
    return out / "report.md", result


def test_report_matches_the_golden_file(report):
    path, _ = report
    text = path.read_text()
    if os.environ.get("MODBENCH_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_report_tables_match_the_cache(report):
    text = report[0].read_text()
    nmi = [METRICS[("New loss", s)][0] for s in (0, 1)]
    cell = f"{np.mean(nmi):.3f} ± {np.std(nmi, ddof=1):.3f}"
    assert re.search(rf"\| New loss +\| 2 +\| +\*\*{re.escape(cell)}\*\* \|", text)
    assert re.search(r"\| Cross-entropy +\| 1/2 +\| +0\.470 \|", text)
    # the paper's CIFAR-10 GoogLeNet rows (Table 2, rows 5 and 6) follow the measured ones
    assert "### Table 2 layout — tiny-cifar10 — CIFAR-10, GoogLeNet" in text  # one dataset and model: in the title
    cells = [r"_New loss\\\* \(paper\)_", "_—_", "_0.722_", "_0.8291_", "_0.8892_", "_0.9294_"]
    assert re.search(r"\| +" + r" +\| +".join(cells) + r" +\|", text)
    assert "Retrieval here is closed-set" in text
    assert "epochs 3 (paper: 70)" in text


def test_report_links_real_plot_images(report):
    path, result = report
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", path.read_text())
    assert links == [f"../plots/tiny-cifar10-{m}.png" for m in ("nmi", "f1", "recall_1", "train_loss")]
    for link in links:
        image = (path.parent / link).resolve()
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote 4 plots" in result.stderr


def test_report_json_keeps_runs_and_adds_aggregates(tmp_path):
    suite_file, cache = build_cache(tmp_path)
    result = CliRunner().invoke(app, ["report", "--suite", str(suite_file), "--cache-dir", str(cache), "--json", "--baseline", "Triplet loss"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    runs = [d for d in data if d["seed"] is not None]
    aggregates = [d for d in data if "aggregate" in d]
    assert len(runs) == 6 and len(aggregates) == 3 and len(data) == 9
    assert [r["status"] for r in runs].count("missing") == 1
    new = next(a for a in aggregates if a["label"] == "New loss")
    values = [METRICS[("New loss", s)][2] for s in (0, 1)]
    assert new["recall@1"] == pytest.approx(np.mean(values))
    assert new["aggregate"]["std"]["recall@1"] == pytest.approx(np.std(values, ddof=1))
    assert new["verdict"]["baseline"] == "Triplet loss" and new["verdict"]["baseline_from"] == "--baseline"
    assert new["verdict"]["verdict"] == "undecided" and new["verdict"]["seeds"] == 2
    ce = next(a for a in aggregates if a["label"] == "Cross-entropy")
    assert ce["aggregate"]["n"] == 1 and ce["aggregate"]["listed"] == 2
    # Cross-entropy's run has no per-query records: no verdict is guessed, the reason says how to get one
    assert ce["verdict"]["verdict"] is None and "modbench eval" in ce["verdict"]["reason"]


def test_report_paper_in_the_terminal_tables(tmp_path):
    suite_file, cache = build_cache(tmp_path)
    result = CliRunner().invoke(app, ["report", "--suite", str(suite_file), "--cache-dir", str(cache), "--paper"])
    assert result.exit_code == 0, result.output
    assert "Triplet loss (paper)" in result.stdout and "New loss* (paper)" in result.stdout
    assert "0.8291" in result.stdout and "Table 2 (one run each), not measured here" in result.stdout


def test_report_paper_json_adds_paper_objects(tmp_path):
    suite_file, cache = build_cache(tmp_path)
    result = CliRunner().invoke(app, ["report", "--suite", str(suite_file), "--cache-dir", str(cache), "--paper", "--json"])
    data = json.loads(result.stdout)
    paper = [d for d in data if d["status"] == "paper"]
    assert [(p["loss"], p["recall@1"]) for p in paper] == [("triplet", 0.695), ("improved", 0.722)]


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--csv", "--paper"], "--paper works with"),
        (["--baseline", "nope"], "no loss named or labelled 'nope'"),
        (["--plots", "{file}"], "is a file, not a folder"),
        (["--output", "{dir}"], "is a folder"),
    ],
)
def test_report_bad_arguments_exit_2(tmp_path, extra, fragment):
    suite_file, cache = build_cache(tmp_path)
    (tmp_path / "a-file").write_text("x")
    extra = [e.format(file=tmp_path / "a-file", dir=tmp_path) for e in extra]
    result = CliRunner().invoke(app, ["report", "--suite", str(suite_file), "--cache-dir", str(cache), *extra])
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr and result.stderr.strip().count("\n") == 0
    assert result.stdout == ""


def test_report_plots_without_matplotlib_exit_2(tmp_path, monkeypatch):
    import sys

    suite_file, cache = build_cache(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = CliRunner().invoke(app, ["report", "--suite", str(suite_file), "--cache-dir", str(cache), "--plots", str(tmp_path / "p")])
    assert result.exit_code == 2
    assert "pip install modbench[plots]" in result.stderr and result.stderr.strip().count("\n") == 0
    assert not (tmp_path / "p").exists()
