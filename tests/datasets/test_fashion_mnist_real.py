"""The real Fashion-MNIST, as Debian's ``dataset-fashion-mnist`` installs it (the four ``.gz``
files Zalando publishes, in /usr/share/datasets/fashion-mnist/). ``.ci/run`` installs the package
where apt-get is available; elsewhere these tests are skipped, saying why.

The loader is checked against what Zalando publishes (60,000 / 10,000 images, the 10 class names,
train pixel mean 0.2860 and std 0.3530 on [0, 1] pixels) and against statistics computed here,
independently, from the raw files with gzip and numpy.
"""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import torch

from modbench.datasets import fashion_mnist

pytestmark = pytest.mark.realdata

FOLDER = fashion_mnist.DEBIAN_DIR
FILES = [FOLDER / f"{f}.gz" for f in fashion_mnist.RAW_FILES]
if not all(p.is_file() for p in FILES):
    pytest.skip(
        f"real Fashion-MNIST not installed: {FOLDER} lacks the four .gz files "
        "(apt-get install dataset-fashion-mnist; .ci/run does this where apt-get is available)",
        allow_module_level=True,
    )

# From Zalando's README (github.com/zalandoresearch/fashion-mnist), label 0 to 9.
PUBLISHED_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                     "Sneaker", "Bag", "Ankle boot"]
PUBLISHED_MEAN, PUBLISHED_STD = 0.2860, 0.3530  # training images, pixels scaled to [0, 1]


def _raw(name: str, header: int) -> np.ndarray:
    """The values of an idx file, read here without modbench: gzip, skip the header, numpy."""
    return np.frombuffer(gzip.decompress((FOLDER / f"{name}.gz").read_bytes())[header:], np.uint8)


@pytest.fixture(scope="module")
def splits():
    return fashion_mnist.load(data_dir=None)  # no data folder: Debian's is found


def test_counts_classes_and_folder(splits):
    assert splits.info["folder"] == str(FOLDER) and splits.info["fixture"] is False
    assert len(splits.train_labels) + len(splits.val_labels) == 60_000
    assert len(splits.test_labels) == 10_000
    assert splits.classes == PUBLISHED_CLASSES and splits.num_classes == 10
    assert torch.bincount(splits.test_labels).tolist() == [1000] * 10  # balanced, as published
    assert splits.train_images.shape[1:] == (1, 28, 28)


def test_pixel_statistics_against_published_and_independent(splits):
    raw = _raw("train-images-idx3-ubyte", 16).astype(np.float64) / 255.0
    assert raw.size == 60_000 * 28 * 28
    assert raw.mean() == pytest.approx(PUBLISHED_MEAN, abs=5e-5)
    assert raw.std() == pytest.approx(PUBLISHED_STD, abs=5e-5)
    # The loader's images are the raw ones (train + validation = the official training split).
    loaded = torch.cat([splits.train_images, splits.val_images]).to(torch.float64) / 255.0
    assert float(loaded.mean()) == pytest.approx(raw.mean(), abs=1e-9)
    assert float(loaded.std()) == pytest.approx(raw.std(), rel=1e-6)
    labels = _raw("train-labels-idx1-ubyte", 8).astype(np.int64)
    both = torch.cat([splits.train_labels, splits.val_labels])
    assert torch.bincount(both).tolist() == np.bincount(labels).tolist() == [6000] * 10
    # Normalisation constants: measured on the training split only (90%), close to the whole.
    assert splits.mean[0] == pytest.approx(PUBLISHED_MEAN, abs=2e-3)
    assert splits.std[0] == pytest.approx(PUBLISHED_STD, abs=2e-3)


def test_trains_a_few_hundred_real_images(cli, write_suite, cache_dir, monkeypatch):
    monkeypatch.delenv("MODBENCH_DATA", raising=False)  # the Debian folder, found by default
    suite = write_suite({
        "name": "fashion-real",
        # 300 training images; 50 test images per class (a smoke run's test subset).
        "dataset": {"name": "fashion-mnist", "subset": 30, "test_subset": 50},
        "backbone": {"name": "small-cnn", "embedding_dim": 16},
        "train": {"epochs": 1, "batch_size": 64, "lr": 1.0e-3},
        "losses": [{"name": "cross-entropy"}],
    })
    result = cli("compare", "--suite", suite, "--json")
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["status"] == "done" and row["dataset"] == "fashion-mnist"
    # Real clothing images: nearest neighbours beat chance (0.1) by far even after one epoch.
    assert row["recall@1"] > 0.2
    stored = json.loads((cache_dir / "runs" / row["run"] / "result.json").read_text())["data"]
    assert stored["train"] == 300 and stored["info"]["folder"] == str(FOLDER)
    assert stored["test"] == 500 and stored["info"]["test_total"] == 10_000
