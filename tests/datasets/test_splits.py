"""The split and subset rules of modbench.datasets.splits, on synthetic labels."""

from __future__ import annotations

import pytest
import torch

from modbench.datasets.splits import (
    build_splits,
    channel_stats,
    stratified_split,
    subset_indices,
    trim_test,
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


def test_subset_rule_caps_train_and_keeps_proportional_val():
    train = _labels([450, 450, 3])
    val = _labels([50, 50, 1])
    i_tr, i_va = subset_indices(train, val, subset=45, seed=0)
    assert torch.bincount(train[i_tr]).tolist() == [45, 45, 3]
    assert torch.bincount(val[i_va]).tolist() == [5, 5, 1]  # ceil(50 * 45/450)


def test_subset_floors_one_val_per_class():
    train = _labels([4500, 4500])
    val = _labels([500, 500])
    i_tr, i_va = subset_indices(train, val, subset=2, seed=0)
    assert torch.bincount(train[i_tr]).tolist() == [2, 2]
    assert torch.bincount(val[i_va]).tolist() == [1, 1]


def test_subsets_are_nested_and_deterministic():
    train, val = _labels([100, 100]), _labels([20, 20])
    small = subset_indices(train, val, subset=5, seed=3)
    again = subset_indices(train, val, subset=5, seed=3)
    large = subset_indices(train, val, subset=20, seed=3)
    for s, a, big in zip(small, again, large):
        assert torch.equal(s, a)
        assert set(s.tolist()) <= set(big.tolist())


def _splits(subset, train_counts=(90, 90, 90), test_counts=(40, 30, 5)):
    train = _labels(list(train_counts))
    test = _labels(list(test_counts))
    # Test images carry their own index as pixel value (mod 256 is enough here: < 256 images).
    test_images = torch.arange(len(test), dtype=torch.uint8).view(-1, 1, 1, 1)
    return build_splits(
        name="x", train_images=torch.zeros(len(train), 1, 1, 1, dtype=torch.uint8), train_labels=train,
        test_images=test_images, test_labels=test, num_classes=3, val_fraction=0.1, split_seed=0,
        subset=subset, augment="none",
    ), test


def test_subset_never_shrinks_the_test_split():
    """``subset`` trims train and validation only: the test split stays whole, in its order."""
    full, test = _splits(None)
    small, _ = _splits(2)
    assert torch.bincount(small.train_labels).tolist() == [2, 2, 2]
    assert torch.equal(small.test_labels, test) and torch.equal(small.test_images, full.test_images)
    assert small.info["sizes"]["test"] == len(test) == small.info["test_total"]


def test_test_subset_keeps_at_most_n_per_class_seeded_and_in_order():
    splits, test = _splits(2)
    cut = trim_test(splits, 10, seed=0)
    assert torch.bincount(cut.test_labels).tolist() == [10, 10, 5]  # a class of 5 keeps all 5
    kept = cut.test_images.flatten().long()  # indices into the whole split (the pixel values)
    assert torch.equal(kept, torch.sort(kept).values)  # the test split's order
    assert torch.equal(test[kept], cut.test_labels)
    assert torch.equal(trim_test(splits, 10, seed=0).test_images, cut.test_images)
    assert not torch.equal(trim_test(splits, 10, seed=1).test_images, cut.test_images)
    assert cut.info["test_subset"] == 10 and cut.info["test_total"] == len(test)
    assert cut.info["sizes"]["test"] == 25
    assert torch.equal(cut.train_labels, splits.train_labels)  # training subset untouched
    assert trim_test(splits, None, seed=0) is splits


def test_load_splits_keeps_the_whole_digits_test_split_under_subset():
    """A training subset (fashion-mnist-cpu's ``subset: 400`` evaluated on 750 of 10,000 test
    images) never shrinks the test split; ``test_subset`` does, and only it."""
    from modbench.datasets import load_splits

    cfg = {"name": "digits", "val_fraction": 0.1, "split_seed": 0}
    whole = load_splits(cfg, data_dir=None, download=False)
    small = load_splits({**cfg, "subset": 10}, data_dir=None, download=False)
    assert len(small.train_labels) == 100
    assert len(whole.test_labels) == 359
    assert torch.equal(small.test_labels, whole.test_labels)
    assert torch.equal(small.test_images, whole.test_images)
    smoke = load_splits({**cfg, "subset": 10, "test_subset": 5}, data_dir=None, download=False)
    assert torch.bincount(smoke.test_labels).tolist() == [5] * 10
    assert smoke.info["test_subset"] == 5 and smoke.info["test_total"] == 359


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
