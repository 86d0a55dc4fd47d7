"""The embedded ``digits`` dataset through the registry, as the engine loads it."""

from __future__ import annotations

import pytest
import torch

from modbench.datasets import DATASETS
from modbench.errors import UserError


def _load(**overrides):
    kwargs = dict(data_dir=None, download=False, val_fraction=0.1, split_seed=0, subset=None,
                  labels=None)
    kwargs.update(overrides)
    return DATASETS.get("digits")(**kwargs)


def _rows(images):
    return {bytes(x.flatten().tolist()) for x in images}


def test_digits_shapes_and_types():
    s = _load()
    assert s.num_classes == 10 and s.augment == "none"
    assert s.train_images.dtype == torch.uint8 and s.train_images.shape[1:] == (1, 8, 8)
    assert s.train_labels.dtype == torch.int64
    assert sum(s.sizes().values()) == 1797
    assert int(s.train_images.max()) == 255  # 0..16 scaled to 0..255
    assert len(s.mean) == len(s.std) == 1 and 0 < s.mean[0] < 1


def test_digits_splits_disjoint_stratified_and_seeded():
    a, b, c = _load(split_seed=0), _load(split_seed=0), _load(split_seed=1)
    assert torch.equal(a.val_images, b.val_images) and torch.equal(a.train_labels, b.train_labels)
    assert not torch.equal(a.val_images, c.val_images)
    # The test split is fixed: the same for every split_seed.
    assert torch.equal(a.test_images, c.test_images)
    for split in (a.train_labels, a.val_labels, a.test_labels):
        counts = torch.bincount(split, minlength=10)
        assert (counts > 0).all()
    counts_val = torch.bincount(a.val_labels, minlength=10).float()
    counts_train = torch.bincount(a.train_labels, minlength=10).float()
    assert ((counts_val / (counts_val + counts_train) - 0.1).abs() < 0.02).all()


def test_digits_splits_are_disjoint_and_complete(monkeypatch):
    # Stand-in data where image i encodes i (base 17 over the first pixels), so every image is
    # unique and each split's members can be identified exactly.
    import numpy as np
    import sklearn.datasets
    from sklearn.utils import Bunch

    real = sklearn.datasets.load_digits()
    n = len(real.target)
    images = np.zeros((n, 8, 8))
    for i in range(n):
        images[i, 0, 0], images[i, 0, 1], images[i, 0, 2] = i % 17, (i // 17) % 17, i // 289
    fake = Bunch(images=images, target=real.target)
    monkeypatch.setattr(sklearn.datasets, "load_digits", lambda: fake)
    s = _load(split_seed=5)
    train, val, test = _rows(s.train_images), _rows(s.val_images), _rows(s.test_images)
    assert len(train) == len(s.train_labels) and len(test) == len(s.test_labels)
    assert not (train & val) and not (train & test) and not (val & test)
    assert len(train | val | test) == n


def test_digits_subset():
    s = _load(subset=3)
    assert torch.bincount(s.train_labels, minlength=10).tolist() == [3] * 10
    assert torch.bincount(s.val_labels, minlength=10).tolist() == [1] * 10
    whole = _load()
    assert torch.equal(s.test_labels, whole.test_labels)  # a training subset keeps the whole test split
    assert torch.equal(s.test_images, whole.test_images)


def test_digits_refuses_labels():
    with pytest.raises(UserError, match="cifar100"):
        _load(labels="coarse")
