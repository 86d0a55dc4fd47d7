"""The class-disjoint protocol (``dataset.split: class-disjoint``) on every dataset kind.

Each check compares the class-disjoint splits against the closed-set splits of the same files,
loaded by the unchanged closed-set path: the training side must be exactly the official
training images (closed train + validation) of its classes, the test side exactly the official
test images of its classes, each side renumbered in the order of its original class ids."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from modbench.datasets import DATASETS, class_disjoint, load_splits
from modbench.datasets.splits import channel_stats
from modbench.errors import UserError
from modbench.suite.schema import DatasetConfig

from .test_user_data import write_npz, write_tree

DISJOINT = {"mode": "class-disjoint"}


def _load(name, data_dir=None, split=None, **kw):
    kwargs = dict(data_dir=data_dir, download=False, val_fraction=0.1, split_seed=0, subset=None, labels=None)
    kwargs.update(kw)
    if split is not None:
        kwargs["split"] = split
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*modbench fixture files.*")
        return DATASETS.get(name)(**kwargs)


def _rows(images: torch.Tensor) -> list[bytes]:
    """Each image as bytes, sorted: the multiset of images, order-free."""
    return sorted(bytes(x.flatten().tolist()) for x in images)


def _check_against_closed(closed, disjoint):
    """The independent check described in the module docstring, plus disjointness."""
    sides = disjoint.info["classes_by_side"]
    train, val, test = (sides[s]["ids"] for s in ("train", "val", "test"))
    assert set(train).isdisjoint(val) and set(train).isdisjoint(test) and set(val).isdisjoint(test)
    assert disjoint.protocol == "class-disjoint" and closed.protocol == "closed"
    assert disjoint.num_classes == len(train)
    assert disjoint.classes == [closed.classes[c] for c in train]
    pool_x = torch.cat([closed.train_images, closed.val_images])
    pool_y = torch.cat([closed.train_labels, closed.val_labels])
    for images, labels, ids, source_x, source_y in (
        (disjoint.train_images, disjoint.train_labels, train, pool_x, pool_y),
        (disjoint.val_images, disjoint.val_labels, val, pool_x, pool_y),
        (disjoint.test_images, disjoint.test_labels, test, closed.test_images, closed.test_labels),
    ):
        assert sorted(set(labels.tolist())) == list(range(len(ids)))  # renumbered 0..K-1
        for new, old in enumerate(ids):
            assert _rows(images[labels == new]) == _rows(source_x[source_y == old])
    # Normalisation statistics from the training classes' images only.
    assert disjoint.mean == pytest.approx(channel_stats(disjoint.train_images)[0])


def test_digits_sides_are_the_official_images_of_their_classes():
    closed = _load("digits")
    disjoint = _load("digits", split=DISJOINT)
    _check_against_closed(closed, disjoint)
    counts = disjoint.info["class_counts"]
    # 10 classes: 5 drawn for the training side, max(2, round(0.1 * 5)) = 2 of them validation.
    assert counts == {"train": 3, "val": 2, "test": 5}


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "fashion-mnist"])
def test_torchvision_datasets(name, fixture_root):
    closed = _load(name, fixture_root)
    disjoint = _load(name, fixture_root, split=DISJOINT)
    _check_against_closed(closed, disjoint)
    k = len(closed.classes)
    counts = disjoint.info["class_counts"]
    assert counts["train"] + counts["val"] == round(k / 2) and counts["test"] == k - round(k / 2)
    assert counts["val"] == max(2, round(0.1 * round(k / 2)))


def test_folder_and_npz_accept_test_classes_absent_from_training(tmp_path):
    root = tmp_path / "tree"
    write_tree(root, classes=("a", "b", "c", "d"), test=0)
    write_tree(root, classes=("e", "f"), train=0, test=3)  # test/ holds classes train/ lacks
    with pytest.raises(UserError, match="is a class that"):
        _load("folder", path=str(root))  # closed-set: refused, as before
    splits = _load("folder", path=str(root), split=DISJOINT)
    sides = splits.info["classes_by_side"]
    assert sorted(sides["train"]["names"] + sides["val"]["names"]) == ["a", "b", "c", "d"]
    assert sides["test"]["names"] == ["e", "f"]
    assert "data's own division" in splits.info["split_rule"]
    assert splits.sizes()["test"] == 6 and splits.num_classes == 2

    file = write_npz(tmp_path / "d.npz", labels=(1, 2, 3, 4), test_labels=np.repeat([8, 9], 3),
                     test_images=np.zeros((6, 10, 10), np.uint8))
    with pytest.raises(UserError, match="which train_labels lacks"):
        _load("npz", path=str(file))
    splits = _load("npz", path=str(file), split=DISJOINT)
    assert splits.info["classes_by_side"]["test"]["names"] == ["8", "9"]
    assert sorted(splits.info["classes_by_side"]["train"]["ids"] + splits.info["classes_by_side"]["val"]["ids"]) \
        == [0, 1, 2, 3]


def test_folder_and_npz_with_shared_classes_against_closed(tmp_path):
    root = write_tree(tmp_path / "tree", classes=tuple("abcdefgh"), train=4, test=2)
    _check_against_closed(_load("folder", path=str(root)), _load("folder", path=str(root), split=DISJOINT))
    file = write_npz(tmp_path / "d.npz", labels=(3, 5, 7, 9, 11, 13, 15, 17))
    _check_against_closed(_load("npz", path=str(file)), _load("npz", path=str(file), split=DISJOINT))


def test_drawn_classes_follow_the_documented_seed_stream():
    # The rule of the docs, computed here: a permutation of the class ids from
    # torch.Generator seeded with seed * 1_000_003 + 6, its first round(fraction * K) for training.
    for seed, fraction in ((0, 0.5), (3, 0.6)):
        g = torch.Generator().manual_seed(seed * 1_000_003 + 6)
        order = torch.randperm(10, generator=g).tolist()
        want = sorted(order[: round(fraction * 10)])
        s = _load("digits", split={**DISJOINT, "seed": seed, "train_fraction": fraction})
        side = s.info["classes_by_side"]
        assert sorted(side["train"]["ids"] + side["val"]["ids"]) == want
    a = _load("digits", split={**DISJOINT, "seed": 1}).info["classes_by_side"]
    b = _load("digits", split={**DISJOINT, "seed": 2}).info["classes_by_side"]
    assert a["test"]["ids"] != b["test"]["ids"]


def test_validation_classes_move_with_split_seed_not_the_test_classes():
    a = _load("digits", split=DISJOINT, split_seed=0).info["classes_by_side"]
    b = _load("digits", split=DISJOINT, split_seed=5).info["classes_by_side"]
    assert a["test"] == b["test"]
    assert sorted(a["train"]["ids"] + a["val"]["ids"]) == sorted(b["train"]["ids"] + b["val"]["ids"])


def test_listed_classes_by_name_and_index(fixture_root):
    s = _load("fashion-mnist", fixture_root,
              split={**DISJOINT, "train_classes": ["T-shirt/top", 1, "Pullover", "Dress", "Coat"]})
    side = s.info["classes_by_side"]
    assert sorted(side["train"]["ids"] + side["val"]["ids"]) == [0, 1, 2, 3, 4]
    assert side["test"]["ids"] == [5, 6, 7, 8, 9]
    s = _load("digits", split={**DISJOINT, "test_classes": [7, 8, 9]})
    side = s.info["classes_by_side"]
    assert side["test"]["ids"] == [7, 8, 9] and len(side["train"]["ids"] + side["val"]["ids"]) == 7
    s = _load("digits", split={**DISJOINT, "train_classes": [0, 1, 2, 3], "test_classes": [8, 9]})
    assert s.info["classes_by_side"]["test"]["ids"] == [8, 9]
    assert 5 not in s.info["classes_by_side"]["train"]["ids"] + s.info["classes_by_side"]["val"]["ids"]


@pytest.mark.parametrize(
    ("split", "fragment"),
    [
        ({"train_classes": [0, 1, 12]}, "split.train_classes lists 12, which is not a class"),
        ({"test_classes": ["cat"]}, "lists 'cat', which is not a class"),
        ({"train_classes": [0, 1, 2, 3], "test_classes": [3, 4]}, "both in train_classes and test_classes"),
        ({"test_classes": [9]}, "leaves 1 test class(es)"),
        ({"train_classes": [0, 1, 2]}, "needs at least 4"),
    ],
)
def test_errors_are_one_line_user_errors(split, fragment):
    with pytest.raises(UserError) as info:
        _load("digits", split={**DISJOINT, **split})
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_a_class_without_images_on_its_side_is_refused(tmp_path):
    root = tmp_path / "tree"
    write_tree(root, classes=("a", "b", "c", "d", "e"), test=0)
    write_tree(root, classes=("e", "f", "g"), train=0, test=2)  # e: training and test images
    with pytest.raises(UserError, match="class 'f' of the training side has no training images"):
        _load("folder", path=str(root), split={**DISJOINT, "train_classes": ["a", "b", "c", "f"]})
    s = _load("folder", path=str(root), split={**DISJOINT, "test_classes": ["e", "f", "g"]})
    assert s.info["classes_by_side"]["test"]["names"] == ["e", "f", "g"]


def test_user_validation_split_must_be_class_disjoint(tmp_path):
    root = tmp_path / "tree"
    write_tree(root, classes=("a", "b", "c"), test=0)
    write_tree(root, classes=("d", "e"), train=0, test=2)
    write_tree(root, classes=("v", "w"), train=0, test=0, val=2)
    s = _load("folder", path=str(root), split=DISJOINT)
    side = s.info["classes_by_side"]
    assert side["val"]["names"] == ["v", "w"] and side["train"]["names"] == ["a", "b", "c"]
    write_tree(root, classes=("a",), train=0, test=0, val=2)
    with pytest.raises(UserError, match="validation class 'a' is also a training or test class"):
        _load("folder", path=str(root), split=DISJOINT)


def test_subset_and_test_subset_through_the_registry():
    cfg = DatasetConfig(name="digits", subset=5, test_subset=3, split="class-disjoint").model_dump(mode="json")
    s = load_splits(cfg, data_dir=None, download=False)
    assert torch.bincount(s.train_labels).tolist() == [5] * s.num_classes
    assert torch.bincount(s.test_labels).tolist() == [3] * 5
    assert s.info["protocol"] == "class-disjoint" and s.sizes() == s.info["sizes"]
    per_seed = DatasetConfig(name="digits", subset=5, subset_seed="per-seed", split="class-disjoint")
    s = load_splits(per_seed.model_dump(mode="json"), data_dir=None, download=False, seed=3)
    assert torch.bincount(s.train_labels).tolist() == [5] * s.num_classes


def test_closed_mode_is_the_old_path():
    closed = load_splits(DatasetConfig(name="digits").model_dump(mode="json"), data_dir=None, download=False)
    assert closed.protocol == "closed" and "protocol" not in closed.info and closed.num_classes == 10


def test_remapping_helper_against_a_loop():
    labels = torch.tensor([4, 0, 7, 4, 2, 7, 9])
    images = torch.arange(7).view(7, 1, 1, 1)
    x, y = class_disjoint._select(images, labels, [2, 4, 7])
    want = [(i, [2, 4, 7].index(int(c))) for i, c in enumerate(labels) if int(c) in (2, 4, 7)]
    assert x.flatten().tolist() == [i for i, _ in want] and y.tolist() == [n for _, n in want]


def test_a_loader_without_the_split_argument_is_one_line_error(monkeypatch):
    # A dataset whose loader has a split of its own (no ``split`` argument) refuses dataset.split.
    import modbench.datasets as registry

    def load(*, data_dir, download, val_fraction, split_seed, subset, labels):
        raise AssertionError("not reached")

    monkeypatch.setattr(registry.DATASETS, "get", lambda name: load)
    cfg = DatasetConfig(name="digits", split="class-disjoint").model_dump(mode="json")
    with pytest.raises(UserError, match="has a split of its own; dataset.split does not apply"):
        load_splits(cfg, data_dir=None, download=False)


def test_subset_caps_every_validation_class_at_n_images(tmp_path):
    # Validation classes have no training images: subset=N keeps at most N images of each
    # (as of each training class), whatever the sizes of the training classes.
    rng = np.random.default_rng(0)

    def images(n):
        return rng.integers(0, 255, size=(n, 6, 6), dtype=np.uint8)

    file = tmp_path / "d.npz"
    np.savez(file, train_images=images(12), train_labels=np.repeat([1, 2], 6),
             val_images=images(60), val_labels=np.repeat([3, 4], 30),
             test_images=images(8), test_labels=np.repeat([5, 6], 4))
    splits = _load("npz", path=str(file), split=DISJOINT, subset=5)
    assert torch.bincount(splits.train_labels).tolist() == [5, 5]
    assert torch.bincount(splits.val_labels).tolist() == [5, 5]
    cfg = DatasetConfig(name="npz", path=str(file), subset=5, subset_seed="per-seed",
                        split="class-disjoint").model_dump(mode="json")
    per_seed = load_splits(cfg, data_dir=None, download=False, seed=1)
    assert torch.bincount(per_seed.val_labels).tolist() == [5, 5]
    assert torch.bincount(per_seed.train_labels).tolist() == [5, 5]
