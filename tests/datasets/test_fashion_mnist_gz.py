"""fashion-mnist from the ``.gz`` files as Zalando publishes them, and from Debian's folder."""

from __future__ import annotations

import gzip
import shutil
import struct
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import torch
import torchvision.datasets as tvd

from modbench.datasets import _torchvision as tv
import fixture_data as fixtures

from modbench.datasets import fashion_mnist, idx
from modbench.errors import UserError

RAW = fashion_mnist.RAW_FILES


@pytest.fixture
def gz_root(tmp_path):
    """A data folder whose FashionMNIST/raw/ holds only the four .gz files."""
    fixtures.write_fashion_mnist(tmp_path / "gz", gz=True)
    return tmp_path / "gz"


@pytest.fixture
def plain_root(tmp_path):
    fixtures.write_fashion_mnist(tmp_path / "plain")
    return tmp_path / "plain"


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*modbench fixture files.*")
        return fn(*args, **kwargs)


def test_gz_files_give_the_same_splits_as_torchvision_on_the_unpacked_ones(gz_root, plain_root):
    raw = gz_root / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(f"{f}.gz" for f in RAW)
    a = _quiet(fashion_mnist.load, data_dir=gz_root)
    b = _quiet(fashion_mnist.load, data_dir=plain_root)
    assert "unpacked" in b.info["source"]
    # The reference: torchvision's own FashionMNIST reads the unpacked files to the same arrays.
    ref_test = tvd.FashionMNIST(str(plain_root), train=False)
    assert torch.equal(b.test_images[:, 0], ref_test.data)
    assert torch.equal(b.test_labels, ref_test.targets)
    ref_train = tvd.FashionMNIST(str(plain_root), train=True)
    ours = torch.cat([b.train_images, b.val_images])[:, 0].flatten(1)
    assert sorted(map(bytes, ours.numpy())) == sorted(map(bytes, ref_train.data.flatten(1).numpy()))
    assert b.classes == tvd.FashionMNIST.classes
    assert "gzip" in a.info["source"] and a.info["fixture"] is True
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(a, f"{split}_images"), getattr(b, f"{split}_images"))
        assert torch.equal(getattr(a, f"{split}_labels"), getattr(b, f"{split}_labels"))
    assert sorted(p.name for p in raw.iterdir()) == sorted(f"{f}.gz" for f in RAW)  # not unpacked


def test_gz_files_are_not_downloaded_again(gz_root, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("--download fetched files that were already there")

    monkeypatch.setattr(tvd.mnist, "download_and_extract_archive", no_network)
    s = _quiet(fashion_mnist.load, data_dir=gz_root, download=True)
    assert len(s.test_labels) == 40


def test_reader_against_gzip_and_numpy(tmp_path):
    # Independent reading: the idx header by struct, the values by numpy, from the gzip stream.
    fixtures.write_fashion_mnist(tmp_path, gz=True)
    path = tmp_path / "FashionMNIST" / "raw" / "train-images-idx3-ubyte.gz"
    data = gzip.decompress(path.read_bytes())
    n, h, w = struct.unpack(">3I", data[4:16])
    expected = np.frombuffer(data[16:], dtype=np.uint8).reshape(n, h, w)
    assert np.array_equal(idx.read_idx(path, ndim=3), expected)


def test_a_folder_holding_just_the_four_files(gz_root, tmp_path):
    flat = tmp_path / "flat"
    shutil.copytree(gz_root / "FashionMNIST" / "raw", flat)
    s = fashion_mnist.load(data_dir=flat)  # no marker next to them: real-data path
    assert s.info["folder"] == str(flat) and len(s.test_labels) == 40


def test_debian_folder_is_used_without_a_data_dir(gz_root, monkeypatch):
    debian = gz_root / "FashionMNIST" / "raw"
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", debian)
    s = _quiet(fashion_mnist.load, data_dir=None)
    assert s.info["folder"] == str(debian) and s.num_classes == 10


def test_download_without_a_data_dir(gz_root, tmp_path, monkeypatch):
    # Debian's copy is there: nothing to fetch. It is not: a download needs a folder.
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", gz_root / "FashionMNIST" / "raw")
    assert len(_quiet(fashion_mnist.load, data_dir=None, download=True).test_labels) == 40
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "none")
    with pytest.raises(UserError, match="needs a data folder"):
        fashion_mnist.load(data_dir=None, download=True)


def test_nothing_found_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "debian")
    with pytest.raises(UserError) as info:
        fashion_mnist.load(data_dir=None)
    message = str(info.value)
    assert str(tmp_path / "debian") in message and "apt-get install dataset-fashion-mnist" in message
    assert "--data-dir" in message and "\n" not in message
    with pytest.raises(UserError) as info:
        fashion_mnist.load(data_dir=tmp_path / "data")
    message = str(info.value)
    assert str(tmp_path / "data" / "FashionMNIST" / "raw") in message
    assert ".gz" in message and str(tmp_path / "data") in message


@pytest.mark.parametrize("damage", ["truncated", "not-gzip-not-idx", "bad-stream", "huge-header"])
def test_damaged_gz_is_one_line_error(tmp_path, damage):
    fixtures.write_fashion_mnist(tmp_path, gz=True)
    raw = tmp_path / "FashionMNIST" / "raw"
    (tmp_path / "FashionMNIST" / tv.MARKER).unlink()  # the parser's checks, not the marker's
    path = raw / "train-images-idx3-ubyte.gz"
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(gzip.compress(gzip.decompress(data)[:1000]))
    elif damage == "not-gzip-not-idx":
        path.write_bytes(b"<html>not found</html>")
    elif damage == "bad-stream":
        path.write_bytes(data[:20] + bytes(b ^ 0xFF for b in data[20:60]) + data[60:])
    else:  # a header declaring 4 billion images must be refused before reading them
        path.write_bytes(gzip.compress(struct.pack(">BBBB3I", 0, 0, 8, 3, 2**32 - 1, 28, 28)))
    with pytest.raises(UserError) as info:
        fashion_mnist.load(data_dir=tmp_path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_marker_checks_the_gz_files(gz_root):
    path = gz_root / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())))  # same content, other bytes
    with pytest.raises(UserError, match="fixture marker"):
        _quiet(fashion_mnist.load, data_dir=gz_root)


def test_a_data_dir_without_the_files_points_at_debians_copy(gz_root, tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", gz_root / "FashionMNIST" / "raw")
    with pytest.raises(UserError, match="has the files, and is read when neither --data-dir"):
        fashion_mnist.load(data_dir=tmp_path / "cifar-only")


@settings(max_examples=25, deadline=None)
@given(shape=st.tuples(st.integers(0, 5), st.integers(1, 6), st.integers(1, 6)), packed=st.booleans(),
       seed=st.integers(0, 2**16))
def test_reader_round_trips_any_idx_file(tmp_path_factory, shape, packed, seed):
    # Written by the fixture writer's own idx function, read back by modbench's reader.
    array = np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)
    path = tmp_path_factory.mktemp("idx") / "a-idx3-ubyte"
    fixtures._idx(path, array)
    if packed:
        path.with_suffix(".gz").write_bytes(gzip.compress(path.read_bytes()))
        path = path.with_suffix(".gz")
    assert np.array_equal(idx.read_idx(path, ndim=3), array)
    with pytest.raises(idx.IdxError, match="dimensions"):
        idx.read_idx(path, ndim=1)
