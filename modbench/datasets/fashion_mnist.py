"""``fashion-mnist`` through torchvision's own ``FashionMNIST`` class (idx files).

Files: ``DATA/FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (torchvision reads
the unpacked files; ``--download`` fetches and unpacks the ``.gz`` archives, checking their
published md5 sums). torchvision does not checksum the unpacked files; its idx parser refuses
truncated or foreign ones. In a fixture folder (marker ``FashionMNIST/MODBENCH_FIXTURE``) the
files are also checked against the marker's md5 sums.

One channel, 28x28, 10 classes; official train 60,000 -> train + validation, official test 10,000
-> test. Augmentation ``crop-flip`` (pad 4, random 28x28 crop, horizontal flip): every class
(shirts, trousers, bags, shoes...) keeps its label under a left-right flip, unlike digits, and the
paper suites then use one augmentation family for all three datasets. Cost of that choice: in the
data every shoe points left, so flipped shoes are images the test split never shows.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.datasets import FashionMNIST

from modbench.datasets import _torchvision as tv
from modbench.datasets.base import DataSplits
from modbench.datasets.splits import build_splits, check_arguments, reject_labels

RAW_FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


def _open(name: str, root: Path, download: bool):
    folder = root / "FashionMNIST"
    raw = folder / "raw"
    missing = [f for f in RAW_FILES if not (raw / f).is_file()]
    if missing and not download:
        raise tv.missing_error(name, raw, missing)

    def construct():
        manifest = tv.read_manifest(folder)
        if manifest is not None:
            bad = [f for f in RAW_FILES if manifest.get(f"raw/{f}") != tv.md5(raw / f)]
            if bad:
                raise RuntimeError(f"{bad[0]} does not match the fixture marker's md5 sum")
        return FashionMNIST(str(root), train=True), FashionMNIST(str(root), train=False)

    if not missing:
        try:
            return construct()
        except tv.BAD_FILE_ERRORS as e:
            if not download:
                raise tv.corrupted_error(name, raw, e) from None
    tv.download_into(name, root, "FashionMNIST",
                     lambda tmp: FashionMNIST(str(tmp), train=True, download=True))
    try:
        return construct()
    except tv.BAD_FILE_ERRORS as e:
        raise tv.corrupted_error(name, raw, e) from None


def load(*, data_dir: Path | None, download: bool = False, val_fraction: float = 0.1,
         split_seed: int = 0, subset: int | None = None, labels: str | None = None) -> DataSplits:
    name = "fashion-mnist"
    reject_labels(name, labels)
    check_arguments(name, val_fraction=val_fraction, subset=subset)
    root = tv.data_root(name, data_dir)
    train, test = _open(name, root, download)
    folder = root / "FashionMNIST"
    return build_splits(
        name=name,
        train_images=train.data.unsqueeze(1).contiguous(),  # uint8 [N, 1, 28, 28]
        train_labels=train.targets.to(torch.int64),
        test_images=test.data.unsqueeze(1).contiguous(),
        test_labels=test.targets.to(torch.int64),
        num_classes=len(FashionMNIST.classes),
        val_fraction=val_fraction,
        split_seed=split_seed,
        subset=subset,
        augment="crop-flip",
        classes=list(FashionMNIST.classes),
        info={
            "source": "torchvision.datasets.FashionMNIST",
            "folder": str(folder),
            "fixture": (folder / tv.MARKER).is_file(),
        },
    )
