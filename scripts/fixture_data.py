"""Tiny dataset files in the genuine on-disk formats, for tests and CI smoke runs.

``write_cifar10``, ``write_cifar100`` and ``write_fashion_mnist`` write, under ``root``, exactly
the files torchvision's ``CIFAR10``, ``CIFAR100`` and ``FashionMNIST`` read (the CIFAR python
pickles; the unpacked Fashion-MNIST idx files), holding synthetic but learnable images: each class
has its own left-right symmetric 4x4 colour pattern (upsampled to the image size, so padded crops
and flips keep it), plus Gaussian noise. Then each writes the fixture marker
(``MODBENCH_FIXTURE``, a JSON manifest of the md5 sum of every file it wrote) in the dataset's
folder; the loaders see it, check the files against it instead of the published sums, and warn
(see ``modbench/datasets/_torchvision.py``).

``scripts/make_fixture_data.py DIR`` writes all three. Same arguments, same bytes. This module is
not part of the installed package: the tests import it (``pythonpath`` in pyproject.toml), the
script and ``benchmarks/train_speed.py`` from this folder. The package only recognises the marker
(``modbench.datasets._torchvision.read_manifest``).
"""

from __future__ import annotations

import gzip
import json
import pickle
import struct
from pathlib import Path

import numpy as np

from modbench.datasets._torchvision import MARKER, md5

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck"]


def _images(
    labels: np.ndarray, num_classes: int, channels: int, size: int, rng: np.random.Generator,
    patterns: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [N, C, size, size]: the class pattern plus noise; returns (images, patterns)."""
    if patterns is None:
        half = rng.uniform(30, 225, size=(num_classes, channels, 4, 2))
        patterns = np.concatenate([half, half[..., ::-1]], axis=-1)  # symmetric: flips keep it
    cell = -(-size // 4)
    big = patterns.repeat(cell, axis=2).repeat(cell, axis=3)[..., :size, :size]
    noise = rng.normal(0.0, 20.0, size=(len(labels), channels, size, size))
    return np.clip(big[labels] + noise, 0, 255).round().astype(np.uint8), patterns


def _labels(num_classes: int, per_class: int, rng: np.random.Generator) -> np.ndarray:
    labels = np.repeat(np.arange(num_classes), per_class)
    return labels[rng.permutation(len(labels))]


def _pickle(path: Path, obj: dict) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)  # the official files are Python-2-era pickles


def write_cifar10(root: Path | str, per_class: int = 10, test_per_class: int = 4,
                  seed: int = 0) -> Path:
    """``root/cifar-10-batches-py/``: data_batch_1..5, test_batch, batches.meta, marker."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    train_y = _labels(10, per_class, rng)
    train_x, patterns = _images(train_y, 10, 3, 32, rng)
    test_y = _labels(10, test_per_class, rng)
    test_x, _ = _images(test_y, 10, 3, 32, rng, patterns)
    files = []
    for b in range(5):  # images spread over the five batches as in the real set
        sel = slice(b, None, 5)
        name = f"data_batch_{b + 1}"
        _pickle(folder / name, {
            "batch_label": f"training batch {b + 1} of 5 (modbench fixture)",
            "labels": train_y[sel].tolist(),
            "data": train_x[sel].reshape(-1, 3 * 32 * 32),
            "filenames": [f"fixture_{b}_{i}.png" for i in range(len(train_y[sel]))],
        })
        files.append(name)
    _pickle(folder / "test_batch", {
        "batch_label": "testing batch 1 of 1 (modbench fixture)",
        "labels": test_y.tolist(),
        "data": test_x.reshape(-1, 3 * 32 * 32),
        "filenames": [f"fixture_test_{i}.png" for i in range(len(test_y))],
    })
    _pickle(folder / "batches.meta", {
        "label_names": CIFAR10_CLASSES, "num_cases_per_batch": len(train_y[0::5]), "num_vis": 3072,
    })
    files += ["test_batch", "batches.meta"]
    write_manifest(folder, "cifar10", files)
    return folder


def cifar100_coarse_of(fine: np.ndarray) -> np.ndarray:
    """The fixture's superclass of each fine class (5 fine classes per superclass, like the real
    set; the real mapping is not this one)."""
    return np.asarray(fine) // 5


def write_cifar100(root: Path | str, per_class: int = 4, test_per_class: int = 2,
                   seed: int = 0) -> Path:
    """``root/cifar-100-python/``: train, test, meta (fine and coarse labels), marker."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    train_y = _labels(100, per_class, rng)
    train_x, patterns = _images(train_y, 100, 3, 32, rng)
    test_y = _labels(100, test_per_class, rng)
    test_x, _ = _images(test_y, 100, 3, 32, rng, patterns)
    for name, x, y in (("train", train_x, train_y), ("test", test_x, test_y)):
        _pickle(folder / name, {
            "filenames": [f"fixture_{name}_{i}.png" for i in range(len(y))],
            "batch_label": f"{name} (modbench fixture)",
            "fine_labels": y.tolist(),
            "coarse_labels": cifar100_coarse_of(y).tolist(),
            "data": x.reshape(-1, 3 * 32 * 32),
        })
    _pickle(folder / "meta", {
        "fine_label_names": [f"fine_{i:02d}" for i in range(100)],
        "coarse_label_names": [f"coarse_{i:02d}" for i in range(20)],
    })
    write_manifest(folder, "cifar100", ["train", "test", "meta"])
    return folder


def _idx(path: Path, array: np.ndarray) -> None:
    """An idx ubyte file: magic (0, 0, type 0x08 = uint8, number of dims), big-endian dims."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, array.ndim))
        f.write(struct.pack(f">{array.ndim}I", *array.shape))
        f.write(array.tobytes())


def write_fashion_mnist(root: Path | str, per_class: int = 10, test_per_class: int = 4,
                        seed: int = 0, gz: bool = False) -> Path:
    """``root/FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``, marker in
    ``root/FashionMNIST/``; with ``gz`` only the ``.gz`` files, as Zalando publishes them."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / "FashionMNIST"
    raw = folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    train_y = _labels(10, per_class, rng)
    train_x, patterns = _images(train_y, 10, 1, 28, rng)
    test_y = _labels(10, test_per_class, rng)
    test_x, _ = _images(test_y, 10, 1, 28, rng, patterns)
    _idx(raw / "train-images-idx3-ubyte", train_x[:, 0])
    _idx(raw / "train-labels-idx1-ubyte", train_y)
    _idx(raw / "t10k-images-idx3-ubyte", test_x[:, 0])
    _idx(raw / "t10k-labels-idx1-ubyte", test_y)
    names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte"]
    if gz:
        for n in names:
            with open(raw / n, "rb") as src, gzip.GzipFile(raw / f"{n}.gz", "wb", mtime=0) as dst:
                dst.write(src.read())  # mtime 0: the same bytes on every run
            (raw / n).unlink()
        names = [f"{n}.gz" for n in names]
    write_manifest(folder, "fashion-mnist", [f"raw/{n}" for n in names])
    return folder


def write_all(root: Path | str, per_class: int | None = None, test_per_class: int | None = None,
              seed: int = 0, gz: bool = False) -> None:
    """All three; ``None`` keeps each writer's default sizes (CIFAR-10 and Fashion-MNIST 10 train
    and 4 test images per class, CIFAR-100 4 and 2: about 0.7 MB, 2.7 MB and 0.13 MB)."""
    sizes = {k: v for k, v in (("per_class", per_class), ("test_per_class", test_per_class))
             if v is not None}
    write_cifar10(root, seed=seed, **sizes)
    write_cifar100(root, seed=seed, **sizes)
    write_fashion_mnist(root, seed=seed, gz=gz, **sizes)


def write_manifest(folder: Path, dataset: str, files: list[str]) -> None:
    """The fixture marker of ``folder``: the md5 sum of each file written, which the loaders check
    the files against instead of the published sums (``modbench.datasets._torchvision``)."""
    manifest = {
        "modbench_fixture": 1,
        "dataset": dataset,
        "note": "synthetic files written by scripts/make_fixture_data.py, not the real dataset",
        "files": {f: md5(folder / f) for f in files},
    }
    (folder / MARKER).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
