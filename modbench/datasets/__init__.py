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
DATASETS.add(
    "cifar10",
    "modbench.datasets.cifar:load_cifar10",
    "CIFAR-10 (torchvision, 32x32 RGB, 10 classes, 50k train / 10k test); --download fetches it.",
)
DATASETS.add(
    "cifar100",
    "modbench.datasets.cifar:load_cifar100",
    "CIFAR-100 (torchvision, 32x32 RGB; labels: fine = 100 classes, coarse = 20 superclasses).",
)
DATASETS.add(
    "fashion-mnist",
    "modbench.datasets.fashion_mnist:load",
    "Fashion-MNIST (torchvision idx files, 28x28 grey, 10 classes, 60k train / 10k test).",
)
