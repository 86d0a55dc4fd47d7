"""``digits``: scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes), offline.

The images hold integers 0..16; they are scaled to uint8 0..255 (``round(v * 255 / 16)``), one
channel. The set has no official test split, so modbench fixes one: 20% of each class, drawn with
a constant seed (``TEST_SEED``), the same for every ``split_seed``, so that every run of every
suite reports on the same 359 test images. The remaining 1,438 images are the "official training
split" that ``val_fraction`` and ``split_seed`` divide into train and validation. No augmentation:
flips and shifts change what an 8x8 digit means.
"""

from __future__ import annotations

from pathlib import Path

import torch

from modbench.datasets.base import DataSplits
from modbench.datasets.protocol import build_splits
from modbench.datasets.registration import register_dataset
from modbench.datasets.splits import reject_labels, stratified_split

TEST_FRACTION = 0.2
TEST_SEED = 20_210_000  # constant: the test split never moves with split_seed


@register_dataset(
    "digits",
    description="scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes), offline.",
)
def load(
    *,
    data_dir: Path | None = None,
    download: bool = False,
    val_fraction: float = 0.1,
    split_seed: int = 0,
    subset: int | None = None,
    labels: str | None = None,
    split: dict | None = None,
) -> DataSplits:
    """The digits splits; ``data_dir`` and ``download`` are ignored (the data ships with sklearn)."""
    reject_labels("digits", labels)
    from sklearn.datasets import load_digits

    bunch = load_digits()
    values = torch.from_numpy(bunch.images).to(torch.float64)  # [1797, 8, 8], 0..16
    images = torch.round(values * (255.0 / 16.0)).to(torch.uint8).unsqueeze(1)  # [N, 1, 8, 8]
    targets = torch.from_numpy(bunch.target).to(torch.int64)

    train_idx, test_idx = stratified_split(targets, TEST_FRACTION, TEST_SEED, stream=3)
    return build_splits(
        name="digits",
        train_images=images[train_idx],
        train_labels=targets[train_idx],
        test_images=images[test_idx],
        test_labels=targets[test_idx],
        num_classes=10,
        val_fraction=val_fraction,
        split_seed=split_seed,
        subset=subset,
        augment="none",
        classes=[str(c) for c in range(10)],
        split=split,
        info={
            "source": "sklearn.datasets.load_digits",
            "test_split": f"{TEST_FRACTION:.0%} of each class, fixed seed {TEST_SEED}",
        },
    )
