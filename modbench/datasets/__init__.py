"""The dataset registry. Each entry is a loader::

    load(*, data_dir, download, val_fraction, split_seed, subset, labels) -> DataSplits

(see ``base.py``). Names are registered lazily so that listing them imports no torch.
"""

from __future__ import annotations

from modbench.registry import Registry

DATASETS = Registry("dataset")
DATASETS.add(
    "digits",
    "modbench.datasets.digits:load",
    "scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes), offline.",
)
