"""``cifar10`` and ``cifar100`` through torchvision's own ``CIFAR10`` / ``CIFAR100`` classes.

Files: ``DATA/cifar-10-batches-py/`` and ``DATA/cifar-100-python/`` (the python pickles, as the
official archives unpack). torchvision checks the published md5 sums of every file; modbench keeps
that check and, only in a folder that holds the fixture marker (see ``_torchvision.py``), hands
torchvision the marker's own sums instead.

The official training split (50,000 images) is divided into train and validation
(class-stratified, ``val_fraction``, ``split_seed``); the official test split (10,000) is the test
split. Augmentation ``crop-flip`` (pad 4, random 32x32 crop, horizontal flip), the same for every
loss. ``cifar100`` takes ``labels: fine`` (100 classes, default) or ``coarse`` (20
superclasses); torchvision's class reads the fine labels only, so the coarse labels and names are
read from the same files it opened.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch
from torchvision.datasets import CIFAR10, CIFAR100

from modbench.datasets import _torchvision as tv
from modbench.datasets.base import DataSplits
from modbench.datasets.protocol import build_splits
from modbench.datasets.registration import register_dataset
from modbench.datasets.splits import check_arguments, reject_labels
from modbench.errors import UserError


class _ManifestChecked:
    """Hands torchvision the fixture manifest's md5 sums when the folder is a fixture.

    The published sums are class attributes of torchvision's class; instance attributes set here,
    before torchvision's ``__init__`` runs its ``_check_integrity`` and ``_load_meta``, shadow
    them for this one object only.
    """

    def __init__(self, root: Path, train: bool, manifest: dict[str, str] | None):
        if manifest is not None:
            cls = type(self)
            self.train_list = [[f, manifest.get(f, "")] for f, _ in cls.train_list]
            self.test_list = [[f, manifest.get(f, "")] for f, _ in cls.test_list]
            self.meta = {**cls.meta, "md5": manifest.get(cls.meta["filename"], "")}
        super().__init__(str(root), train=train, download=False)


class CheckedCIFAR10(_ManifestChecked, CIFAR10):
    pass


class CheckedCIFAR100(_ManifestChecked, CIFAR100):
    pass


def _expected_files(cls) -> list[str]:
    return [f for f, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]


def _open(name: str, cls, checked, root: Path, download: bool):
    """(train, test) torchvision datasets, with modbench's errors and temporary downloads."""
    folder = root / cls.base_folder
    expected = _expected_files(cls)
    missing = [f for f in expected if not (folder / f).is_file()]
    if missing and not download:
        raise tv.missing_error(name, folder, missing)

    def construct():
        manifest = tv.read_manifest(folder)
        return checked(root, True, manifest), checked(root, False, manifest)

    if not missing:
        try:
            return construct()
        except tv.BAD_FILE_ERRORS as e:
            if not download:
                raise tv.corrupted_error(name, folder, e) from None
    tv.download_into(name, root, cls.base_folder,
                     lambda tmp: cls(str(tmp), train=True, download=True))
    try:
        return construct()
    except tv.BAD_FILE_ERRORS as e:
        raise tv.corrupted_error(name, folder, e) from None


def _images(ds) -> torch.Tensor:
    # torchvision keeps CIFAR as numpy uint8 [N, 32, 32, 3] (HWC); the contract is [N, C, H, W].
    return torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()


def _coarse(ds, train: bool) -> tuple[torch.Tensor, list[str]]:
    """CIFAR-100's superclass labels and names, from the files ``ds`` was loaded from."""
    folder = os.path.join(ds.root, ds.base_folder)
    targets: list[int] = []
    for file_name, _ in ds.train_list if train else ds.test_list:
        with open(os.path.join(folder, file_name), "rb") as f:
            targets.extend(pickle.load(f, encoding="latin1")["coarse_labels"])
    with open(os.path.join(folder, ds.meta["filename"]), "rb") as f:
        names = pickle.load(f, encoding="latin1")["coarse_label_names"]
    return torch.tensor(targets, dtype=torch.int64), list(names)


def _load(name, cls, checked, *, data_dir, download, val_fraction, split_seed, subset,
          labels, split=None) -> DataSplits:
    check_arguments(name, val_fraction=val_fraction, subset=subset)
    root = tv.data_root(name, data_dir)
    train, test = _open(name, cls, checked, root, download)
    folder = root / cls.base_folder
    train_y = torch.tensor(train.targets, dtype=torch.int64)
    test_y = torch.tensor(test.targets, dtype=torch.int64)
    classes = list(train.classes)
    if labels == "coarse":
        try:
            train_y, classes = _coarse(train, True)
            test_y, _ = _coarse(test, False)
        except tv.BAD_FILE_ERRORS as e:
            raise tv.corrupted_error(name, folder, f"coarse labels: {e!r}") from None
    return build_splits(
        name=name,
        train_images=_images(train),
        train_labels=train_y,
        test_images=_images(test),
        test_labels=test_y,
        num_classes=len(classes),
        val_fraction=val_fraction,
        split_seed=split_seed,
        subset=subset,
        augment="crop-flip",
        classes=classes,
        split=split,
        info={
            "source": f"torchvision.datasets.{cls.__name__}",
            "folder": str(folder),
            "fixture": (folder / tv.MARKER).is_file(),
            "labels": labels if name == "cifar100" else None,
        },
    )


@register_dataset(
    "cifar10",
    description="CIFAR-10 (torchvision, 32x32 RGB, 10 classes, 50k train / 10k test); --download fetches it.",
)
def load_cifar10(*, data_dir: Path | None, download: bool = False, val_fraction: float = 0.1,
                 split_seed: int = 0, subset: int | None = None,
                 labels: str | None = None, split: dict | None = None) -> DataSplits:
    reject_labels("cifar10", labels)
    return _load("cifar10", CIFAR10, CheckedCIFAR10, data_dir=data_dir, download=download,
                 val_fraction=val_fraction, split_seed=split_seed, subset=subset, labels=None, split=split)


CIFAR100_LABELS = ("fine", "coarse")


@register_dataset(
    "cifar100",
    description="CIFAR-100 (torchvision, 32x32 RGB; labels: fine = 100 classes, coarse = 20 superclasses).",
)
def load_cifar100(*, data_dir: Path | None, download: bool = False, val_fraction: float = 0.1,
                  split_seed: int = 0, subset: int | None = None,
                  labels: str | None = None, split: dict | None = None) -> DataSplits:
    labels = labels or "fine"
    if labels not in CIFAR100_LABELS:
        raise UserError(f"dataset 'cifar100': labels must be one of {', '.join(CIFAR100_LABELS)},"
                        f" got '{labels}'")
    return _load("cifar100", CIFAR100, CheckedCIFAR100, data_dir=data_dir, download=download,
                 val_fraction=val_fraction, split_seed=split_seed, subset=subset, labels=labels, split=split)
