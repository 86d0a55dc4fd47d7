"""CI smoke of the five paper suites: `compare --subset 2 --epochs 1` on generated fixture files
in the real on-disk formats, through the same code path as a full run."""

from __future__ import annotations

import json
import math
import shutil

import pytest

import fixture_data as fixtures

PAPER_SUITES = {
    # Each paper suite ends with its controls (docs/losses.md), the AdamW control of the paper's loss last.
    "cifar100-googlenet": ["Margin loss", "Triplet loss", "New loss*", "Cross-entropy", "Cross-entropy x e^5 (control)", "New loss (sigmoid reading)",
                           "BCE one-vs-rest x e^5 (control)", "New loss (probability reading)", "New loss (AdamW)"],
    "cifar10-googlenet": ["ProxyNCA", "N-pair", "Triplet loss", "Margin loss", "New loss*", "Cross-entropy", "Cross-entropy x e^5 (control)", "New loss (sigmoid reading)",
                          "BCE one-vs-rest x e^5 (control)", "New loss (probability reading)", "New loss (AdamW)"],
    "cifar10-resnet50": ["Margin loss", "Triplet loss", "New loss*", "Cross-entropy", "Cross-entropy x e^5 (control)", "New loss (sigmoid reading)",
                         "BCE one-vs-rest x e^5 (control)", "New loss (probability reading)", "New loss (AdamW)"],
    "fashion-mnist-resnet50": ["Margin loss", "Triplet loss", "New loss*", "Cross-entropy",
                               "Cross-entropy x e^10 (control)", "New loss (sigmoid reading)",
                               "BCE one-vs-rest x e^10 (control)", "New loss (probability reading)", "New loss (AdamW)"],
    "cifar10-googlenet-sweep": [
        f"New loss (beta={b})" for b in (2, 3, 4, 5, 7, 10)
    ] + ["New loss (gamma=5)", "New loss (gamma=10)", "Cross-entropy"] + [
        f"Cross-entropy x e^gamma (loss_scale={s})" for s in (20.09, 148.41, 22026.47)
    ] + ["BCE one-vs-rest (control)"] + [f"New loss (AdamW) (gamma={g})" for g in (3, 5, 10)],
}


@pytest.fixture(scope="module")
def fixture_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    fixtures.write_all(root, None, None, 0)
    return root


@pytest.mark.slow  # minutes per suite on a CPU: two real backbones (GoogLeNet, ResNet-50) per loss
@pytest.mark.parametrize("suite", list(PAPER_SUITES))
def test_paper_suite_smoke(cli, fixture_dir, cache_dir, suite):
    result = cli("compare", "--suite", suite, "--subset", "2", "--epochs", "1", "--data-dir", fixture_dir, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    records = [r for r in data if r.get("seed") is not None]  # the runs (aggregates carry the verdicts)
    assert [r["label"] for r in records] == PAPER_SUITES[suite]
    verdicts = [r["verdict"] for r in data if r.get("verdict")]
    assert verdicts and all(v["metric"] == "recall@1" for v in verdicts)  # the suite's verdict metric
    for r in records:
        assert r["status"] == "done"
        for key in ("nmi", "f1", "recall@1", "recall@8"):
            assert r[key] is not None and math.isfinite(r[key]) and 0.0 <= r[key] <= 1.0
    # A passing suite's cache goes: its checkpoints (a ResNet-50's is about 285 MB with the
    # optimizer's state) came to 7 GB over the five suites, and pytest keeps the temporary folders
    # of its last three sessions. A failing one keeps its cache to look at.
    shutil.rmtree(cache_dir)


def test_missing_dataset_files_exit_2_naming_download(cli, tmp_path):
    result = cli("compare", "--suite", "cifar10-resnet50", "--subset", "2", "--epochs", "1", "--data-dir", tmp_path / "empty")
    assert result.exit_code == 2
    assert "--download" in result.stderr and "cifar10" in result.stderr.lower()
    assert len(result.stderr.strip().splitlines()) == 1
