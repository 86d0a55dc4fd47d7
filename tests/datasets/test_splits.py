"""The split and subset rules of modbench.datasets.splits, on synthetic labels."""

from __future__ import annotations

import pytest
import torch

from modbench.datasets.splits import (
    build_splits,
    channel_stats,
    stratified_split,
    subset_indices,
)
from modbench.errors import UserError


def _labels(counts):
    return torch.cat([torch.full((n,), c, dtype=torch.int64) for c, n in enumerate(counts)])


def test_stratified_split_is_disjoint_complete_and_stratified():
    labels = _labels([100, 50, 30, 7])
    kept, held = stratified_split(labels, 0.2, seed=0)
    assert set(kept.tolist()).isdisjoint(held.tolist())
    assert sorted(kept.tolist() + held.tolist()) == list(range(len(labels)))
    held_counts = torch.bincount(labels[held], minlength=4).tolist()
    assert held_counts == [20, 10, 6, 1]  # round(0.2 * n) per class


def test_stratified_split_deterministic_and_seed_dependent():
    labels = _labels([100, 100])
    a = stratified_split(labels, 0.3, seed=1)
    b = stratified_split(labels, 0.3, seed=1)
    c = stratified_split(labels, 0.3, seed=2)
    assert torch.equal(a[1], b[1]) and torch.equal(a[0], b[0])
    assert not torch.equal(a[1], c[1])


def test_small_class_keeps_one_on_each_side():
    labels = _labels([2, 3])
    kept, held = stratified_split(labels, 0.01, seed=0)
    assert torch.bincount(labels[held]).tolist() == [1, 1]
    kept, held = stratified_split(labels, 0.9, seed=0)
    assert torch.bincount(labels[kept]).tolist() == [1, 1]


def test_zero_fraction_holds_nothing_out():
    labels = _labels([5, 5])
    kept, held = stratified_split(labels, 0.0, seed=0)
    assert len(held) == 0 and len(kept) == 10


def test_subset_rule_caps_train_and_keeps_proportional_val_and_test():
    train = _labels([450, 450, 3])
    val = _labels([50, 50, 1])
    test = _labels([100, 100, 100])
    i_tr, i_va, i_te = subset_indices(train, val, test, subset=45, seed=0)
    assert torch.bincount(train[i_tr]).tolist() == [45, 45, 3]
    assert torch.bincount(val[i_va]).tolist() == [5, 5, 1]  # ceil(50 * 45/450)
    assert torch.bincount(test[i_te]).tolist() == [10, 10, 100]  # class 2 kept whole (ratio 1)


def test_subset_floors_one_val_and_two_test_per_class():
    train = _labels([4500, 4500])
    val = _labels([500, 500])
    test = _labels([1000, 1000])
    i_tr, i_va, i_te = subset_indices(train, val, test, subset=2, seed=0)
    assert torch.bincount(train[i_tr]).tolist() == [2, 2]
    assert torch.bincount(val[i_va]).tolist() == [1, 1]
    assert torch.bincount(test[i_te]).tolist() == [2, 2]


def test_subsets_are_nested_and_deterministic():
    train, val, test = _labels([100, 100]), _labels([20, 20]), _labels([40, 40])
    small = subset_indices(train, val, test, subset=5, seed=3)
    again = subset_indices(train, val, test, subset=5, seed=3)
    large = subset_indices(train, val, test, subset=20, seed=3)
    for s, a, big in zip(small, again, large):
        assert torch.equal(s, a)
        assert set(s.tolist()) <= set(big.tolist())


def test_channel_stats_match_float_computation():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (50, 3, 5, 5), generator=g, dtype=torch.uint8)
    mean, std = channel_stats(images)
    x = images.double() / 255
    assert mean == pytest.approx(x.mean(dim=(0, 2, 3)).tolist(), abs=1e-12)
    assert std == pytest.approx(x.std(dim=(0, 2, 3)).tolist(), abs=1e-9)


def test_build_splits_rejects_bad_arguments():
    images = torch.zeros(10, 1, 4, 4, dtype=torch.uint8)
    labels = _labels([5, 5])
    kwargs = dict(
        name="x", train_images=images, train_labels=labels, test_images=images,
        test_labels=labels, num_classes=2, split_seed=0, augment="none",
    )
    with pytest.raises(UserError, match="val_fraction"):
        build_splits(val_fraction=1.0, subset=None, **kwargs)
    with pytest.raises(UserError, match="subset"):
        build_splits(val_fraction=0.2, subset=0, **kwargs)
