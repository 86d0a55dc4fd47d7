"""cifar10, cifar100 and fashion-mnist on fixture files in their genuine on-disk formats,
loaded through torchvision's classes exactly as the tool loads them."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch
import torchvision.datasets as tvd

from modbench.datasets import _torchvision as tv
import fixture_data as fixtures
from modbench.errors import RunError, UserError

NAMES = ["cifar10", "cifar100", "fashion-mnist"]
FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python",
           "fashion-mnist": "FashionMNIST"}


# -- the files are the real formats ---------------------------------------------------------


def test_cifar_fixture_files_are_read_by_plain_torchvision(fixture_root, monkeypatch):
    # Plain torchvision classes, only the md5 check switched off: the pickles are the real format.
    monkeypatch.setattr(tvd.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(tvd.cifar, "check_integrity", lambda path, md5=None: True)
    c10 = tvd.CIFAR10(str(fixture_root), train=True)
    assert c10.data.shape == (100, 32, 32, 3) and sorted(set(c10.targets)) == list(range(10))
    assert c10.classes == fixtures.CIFAR10_CLASSES
    c100 = tvd.CIFAR100(str(fixture_root), train=False)
    assert c100.data.shape == (200, 32, 32, 3) and len(c100.classes) == 100
    image, label = c10[0]
    assert image.size == (32, 32) and isinstance(label, int)


def test_fashion_mnist_fixture_files_are_read_by_plain_torchvision(fixture_root):
    ds = tvd.FashionMNIST(str(fixture_root), train=True)
    assert tuple(ds.data.shape) == (100, 28, 28) and ds.data.dtype == torch.uint8
    assert torch.bincount(ds.targets).tolist() == [10] * 10
    assert tuple(tvd.FashionMNIST(str(fixture_root), train=False).data.shape) == (40, 28, 28)


def test_fixture_writer_is_deterministic(tmp_path):
    fixtures.write_cifar10(tmp_path / "a", per_class=3, seed=7)
    fixtures.write_cifar10(tmp_path / "b", per_class=3, seed=7)
    for f in ("data_batch_1", "test_batch", tv.MARKER):
        a = (tmp_path / "a" / FOLDERS["cifar10"] / f).read_bytes()
        assert a == (tmp_path / "b" / FOLDERS["cifar10"] / f).read_bytes()


# -- the loaders --------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_loader_returns_the_contract(fixture_root, name):
    with pytest.warns(UserWarning, match="fixture"):
        from modbench.datasets import DATASETS

        s = DATASETS.get(name)(data_dir=fixture_root, download=False, val_fraction=0.1,
                               split_seed=0, subset=None, labels=None)
    channels, size = (1, 28) if name == "fashion-mnist" else (3, 32)
    assert s.train_images.dtype == torch.uint8
    assert s.train_images.shape[1:] == (channels, size, size)
    assert s.test_images.shape[1:] == (channels, size, size)
    assert s.train_labels.dtype == torch.int64 and s.test_labels.dtype == torch.int64
    assert s.augment == "crop-flip" and s.info["fixture"] is True
    assert s.num_classes == len(s.classes) == (100 if name == "cifar100" else 10)
    assert len(s.mean) == len(s.std) == channels
    # official train -> train + val; official test -> test, whole
    per_class_train = 4 if name == "cifar100" else 10
    per_class_test = 2 if name == "cifar100" else 4
    assert len(s.train_labels) + len(s.val_labels) == per_class_train * s.num_classes
    assert len(s.test_labels) == per_class_test * s.num_classes
    assert (torch.bincount(s.val_labels, minlength=s.num_classes) >= 1).all()


@pytest.mark.parametrize("name", NAMES)
def test_splits_deterministic_per_seed(fixture_root, name, load):
    a = load(name, fixture_root, split_seed=0)
    b = load(name, fixture_root, split_seed=0)
    c = load(name, fixture_root, split_seed=1)
    assert torch.equal(a.val_images, b.val_images) and torch.equal(a.train_images, b.train_images)
    assert not torch.equal(a.val_images, c.val_images)
    assert torch.equal(a.test_images, c.test_images)  # the official test split never moves


def test_train_val_disjoint_on_real_format(fixture_root, load):
    s = load("cifar10", fixture_root)
    rows = lambda x: {bytes(i.flatten().tolist()) for i in x}  # noqa: E731
    train, val = rows(s.train_images), rows(s.val_images)
    assert len(train) == len(s.train_labels) and len(val) == len(s.val_labels)
    assert not train & val


@pytest.mark.parametrize("name", NAMES)
def test_subset_two(fixture_root, name, load):
    s = load(name, fixture_root, subset=2)
    k = s.num_classes
    assert torch.bincount(s.train_labels, minlength=k).tolist() == [2] * k
    assert torch.bincount(s.val_labels, minlength=k).tolist() == [1] * k
    whole = load(name, fixture_root)
    assert torch.equal(s.test_labels, whole.test_labels)  # the test split stays whole


def test_cifar100_coarse_labels(fixture_root, load):
    fine = load("cifar100", fixture_root)
    coarse = load("cifar100", fixture_root, labels="coarse")
    assert coarse.num_classes == 20 and len(coarse.classes) == 20
    assert sorted(set(coarse.test_labels.tolist())) == list(range(20))
    # Same images, same order: each coarse label is the fixture's superclass of the fine label.
    assert torch.equal(fine.test_images, coarse.test_images)
    assert torch.equal(coarse.test_labels,
                       torch.from_numpy(fixtures.cifar100_coarse_of(fine.test_labels.numpy())))
    assert load("cifar100", fixture_root, labels="fine").num_classes == 100


@pytest.mark.parametrize("name,labels", [("cifar100", "medium"), ("cifar10", "coarse"),
                                         ("fashion-mnist", "fine")])
def test_bad_labels_are_user_errors(fixture_root, name, labels, load):
    with pytest.raises(UserError, match="labels"):
        load(name, fixture_root, labels=labels)


# -- missing, corrupted, downloads --------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_no_data_dir_is_a_user_error(name, load, tmp_path, monkeypatch):
    from modbench.datasets import fashion_mnist

    # Without a data folder fashion-mnist looks in Debian's folder: make sure it is absent here.
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "no-debian")
    with pytest.raises(UserError, match="--data-dir.*MODBENCH_DATA"):
        load(name, None)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("exists", [True, False])
def test_missing_files_name_dataset_folder_and_flag(tmp_path, name, exists, load, tree):
    root = tmp_path / "data"
    if exists:
        root.mkdir()
    before = tree(tmp_path)
    with pytest.raises(UserError) as info:
        load(name, root)
    message = str(info.value)
    assert name in message and str(root / FOLDERS[name]) in message and "--download" in message
    assert "\n" not in message
    assert tree(tmp_path) == before  # nothing written, not even the folder


def test_missing_one_cifar_file(fixture_copy, load):
    os.remove(fixture_copy / FOLDERS["cifar10"] / "data_batch_3")
    with pytest.raises(UserError, match="data_batch_3.*--download"):
        load("cifar10", fixture_copy)


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_published_checksums_apply_without_the_marker(fixture_copy, name, load):
    # Real-named files that are not the published ones (as a corrupted download would be) are
    # refused by torchvision's md5 check as soon as the fixture marker is absent.
    os.remove(fixture_copy / FOLDERS[name] / tv.MARKER)
    with pytest.raises(UserError, match="fail torchvision's checks.*--download"):
        load(name, fixture_copy)


def test_corrupted_fixture_file_is_refused_even_with_marker(fixture_copy, load):
    path = fixture_copy / FOLDERS["cifar10"] / "data_batch_2"
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match="fail torchvision's checks"):
        load("cifar10", fixture_copy)


def test_marker_only_relaxes_its_own_folder(fixture_copy, load):
    # A CIFAR-100 marker says nothing about the CIFAR-10 folder.
    os.remove(fixture_copy / FOLDERS["cifar10"] / tv.MARKER)
    assert load("cifar100", fixture_copy).num_classes == 100
    with pytest.raises(UserError):
        load("cifar10", fixture_copy)


@pytest.mark.parametrize("damage", ["truncate", "marker-mismatch"])
def test_damaged_fashion_mnist_is_refused(fixture_copy, damage, load):
    path = fixture_copy / "FashionMNIST" / "raw" / "train-images-idx3-ubyte"
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[:8])
    else:
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    with pytest.raises(UserError, match="train-images.*--download"):
        load("fashion-mnist", fixture_copy)


def test_failed_download_leaves_nothing(tmp_path, monkeypatch, load, tree):
    def broken(url, download_root, filename=None, md5=None, **kwargs):
        # write part of the archive, then fail as a dropped connection would
        (open(os.path.join(download_root, filename), "wb")).write(b"partial")
        raise OSError("connection reset")

    monkeypatch.setattr(tvd.cifar, "download_and_extract_archive", broken)
    root = tmp_path / "data"
    with pytest.raises(RunError, match="cifar10.*download failed"):
        load("cifar10", root, download=True)
    assert tree(tmp_path) == []  # the data folder it created is gone again


def test_download_into_moves_only_a_complete_download(tmp_path, monkeypatch):
    root = tmp_path / "data"
    (root / "cifar-10-batches-py").mkdir(parents=True)
    (root / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"stale")
    (root / "cifar-10-batches-py" / tv.MARKER).write_text("{}")

    def fetch(tmp):
        fixtures.write_cifar10(tmp, per_class=2)
        os.remove(tmp / "cifar-10-batches-py" / tv.MARKER)  # as if real files came down

    tv.download_into("cifar10", root, "cifar-10-batches-py", fetch)
    folder = root / "cifar-10-batches-py"
    assert sorted(p.name for p in root.iterdir()) == ["cifar-10-batches-py"]  # no temp left
    assert (folder / "data_batch_1").read_bytes() != b"stale"
    assert not (folder / tv.MARKER).exists()  # a stale fixture marker never vouches for it
    assert len(list(folder.iterdir())) == 7


def test_fixture_warning_is_emitted_once_per_load(fixture_root):
    from modbench.datasets import DATASETS

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        DATASETS.get("cifar10")(data_dir=fixture_root, download=False, val_fraction=0.1,
                                split_seed=0, subset=None, labels=None)
    assert sum("fixture" in str(w.message) for w in caught) == 1


def test_fixture_images_are_class_structured(fixture_root, load):
    # A nearest-class-mean classifier on the fixture separates the classes: training can learn.
    s = load("cifar10", fixture_root)
    x = s.train_images.double().flatten(1)
    means = torch.stack([x[s.train_labels == c].mean(0) for c in range(10)])
    pred = torch.cdist(s.test_images.double().flatten(1), means).argmin(1)
    assert (pred == s.test_labels).double().mean() > 0.9
    assert np.unique(s.test_images.numpy()).size > 50  # noisy, not constant
