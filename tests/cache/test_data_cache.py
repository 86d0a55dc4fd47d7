"""The decoded-splits cache (``modbench/cache/data.py``): a hit gives the very tensors a fresh
decode gives; the key follows the whole dataset section, the source files and the seed where it
draws; damaged, foreign or stale entries are decoded again, never trusted; run keys unchanged."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from modbench import datasets
from modbench.cache import data as data_cache

DIGITS = {"name": "digits", "val_fraction": 0.1, "split_seed": 0}


def _counting(cfg, seed=None, data_dir=None):
    calls = []

    def load():
        calls.append(1)
        return datasets.load_splits(cfg, data_dir=data_dir, download=False, seed=seed)

    return load, calls


def assert_identical(a, b) -> None:
    """Every field equal; tensors bit for bit, with dtype, shape, strides and contiguity."""
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, torch.Tensor):
            assert x.dtype == y.dtype and x.shape == y.shape, f.name
            assert x.stride() == y.stride() and x.is_contiguous() == y.is_contiguous(), f.name
            assert torch.equal(x.view(torch.uint8) if x.dtype == torch.uint8 else x, y), f.name
            assert x.reshape(-1).view(torch.uint8).numpy().tobytes() == y.reshape(-1).view(torch.uint8).numpy().tobytes()
        else:
            assert type(x) is type(y) and x == y, f.name


def test_hit_is_bit_identical_to_a_fresh_decode_and_skips_the_loader(tmp_path):
    fresh = datasets.load_splits(DIGITS, data_dir=None, download=False)
    load, calls = _counting(DIGITS)
    first, how = data_cache.cached_splits(DIGITS, load, root=tmp_path)
    assert how == "built" and len(calls) == 1
    again, how = data_cache.cached_splits(DIGITS, load, root=tmp_path)
    assert how == "hit" and len(calls) == 1  # not decoded again
    assert_identical(fresh, first)
    assert_identical(fresh, again)
    assert len(list((tmp_path / "data").glob("*.pt"))) == 1


@pytest.mark.parametrize("change", [
    {"split_seed": 1}, {"val_fraction": 0.2}, {"subset": 5}, {"test_subset": 3},
    {"protocol": "class-disjoint"},  # a setting this module has never heard of
])
def test_every_setting_of_the_dataset_section_is_in_the_key(change):
    base = data_cache.entry_key(DIGITS, data_dir=None, seed=0)
    assert data_cache.entry_key({**DIGITS, **change}, data_dir=None, seed=0) != base


def test_the_seed_is_in_the_key_only_where_the_section_draws_per_seed():
    assert data_cache.entry_key(DIGITS, data_dir=None, seed=0) == data_cache.entry_key(DIGITS, data_dir=None, seed=1)
    per_seed = {**DIGITS, "subset": 5, "subset_seed": "per-seed"}
    assert data_cache.entry_key(per_seed, data_dir=None, seed=0) != data_cache.entry_key(per_seed, data_dir=None, seed=1)


def test_per_seed_subsets_are_cached_apart_and_identical_to_fresh(tmp_path):
    cfg = {**DIGITS, "subset": 5, "subset_seed": "per-seed"}
    for seed in (0, 1, 0):
        load, _ = _counting(cfg, seed=seed)
        got, _ = data_cache.cached_splits(cfg, load, root=tmp_path, seed=seed)
        assert_identical(datasets.load_splits(cfg, data_dir=None, download=False, seed=seed), got)
    assert len(list((tmp_path / "data").glob("*.pt"))) == 2


def _entry(tmp_path) -> Path:
    (path,) = (tmp_path / "data").glob("*.pt")
    return path


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty", "folder"])
def test_a_damaged_entry_is_decoded_again_and_replaced(tmp_path, damage):
    load, calls = _counting(DIGITS)
    data_cache.cached_splits(DIGITS, load, root=tmp_path)
    path = _entry(tmp_path)
    raw = bytearray(path.read_bytes())
    if damage == "flip":  # one byte inside the image tensors (torch.load alone would not notice)
        raw[len(raw) // 2] ^= 0x01
        path.write_bytes(bytes(raw))
    elif damage == "truncate":
        path.write_bytes(bytes(raw[: len(raw) // 3]))
    elif damage == "garbage":
        path.write_bytes(b"not a torch file")
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()
        path.mkdir()
    if damage == "folder":  # cannot be replaced by a file: decoded, and the run goes on
        got, how = data_cache.cached_splits(DIGITS, load, root=tmp_path)
        assert how == "uncached" and len(calls) == 2
    else:
        got, how = data_cache.cached_splits(DIGITS, load, root=tmp_path)
        assert how == "rebuilt" and len(calls) == 2
        assert data_cache.cached_splits(DIGITS, load, root=tmp_path)[1] == "hit"
    assert_identical(datasets.load_splits(DIGITS, data_dir=None, download=False), got)


def test_an_entry_copied_under_another_key_is_refused(tmp_path):
    other = {**DIGITS, "split_seed": 7}
    data_cache.cached_splits(other, _counting(other)[0], root=tmp_path)
    source = _entry(tmp_path)
    key = data_cache.entry_key(DIGITS, data_dir=None, seed=None)
    (tmp_path / "data" / f"{key}.pt").write_bytes(source.read_bytes())
    load, calls = _counting(DIGITS)
    got, how = data_cache.cached_splits(DIGITS, load, root=tmp_path)
    assert how == "rebuilt" and len(calls) == 1
    assert_identical(datasets.load_splits(DIGITS, data_dir=None, download=False), got)


def test_changed_source_files_give_another_entry(tmp_path):
    from tests.datasets.test_user_data import write_npz

    from modbench.datasets.paths import resolve_data_path

    npz = tmp_path / "mine.npz"
    write_npz(npz, seed=0)
    cfg = {"name": "npz", "val_fraction": 0.25, "split_seed": 0, "path": str(resolve_data_path(npz))}
    first, how = data_cache.cached_splits(cfg, _counting(cfg)[0], root=tmp_path / "cache")
    assert how == "built"
    write_npz(npz, seed=1)  # other images, same suite
    import os

    os.utime(npz, ns=(1, 1))  # another modification time whatever the clock's resolution
    load, calls = _counting(cfg)
    second, how = data_cache.cached_splits(cfg, load, root=tmp_path / "cache")
    assert how == "built" and len(calls) == 1  # the old entry is not served
    assert_identical(datasets.load_splits(cfg, data_dir=None, download=False), second)
    assert not torch.equal(first.train_images, second.train_images)


def test_a_change_to_the_dataset_code_gives_another_key(monkeypatch):
    base = data_cache.entry_key(DIGITS, data_dir=None, seed=None)
    monkeypatch.setattr(data_cache, "_CODE_DIGEST", "0" * 64)
    assert data_cache.entry_key(DIGITS, data_dir=None, seed=None) != base


def test_absent_source_files_are_never_cached(tmp_path):
    cfg = {"name": "fashion-mnist", "val_fraction": 0.1, "split_seed": 0}
    assert data_cache.entry_key(cfg, data_dir=tmp_path / "nothing-here", seed=None) is None


def test_fashion_mnist_fixture_hit_is_identical(tmp_path):
    import fixture_data as fixtures  # scripts/ (on the tests' pythonpath)

    fixtures.write_fashion_mnist(tmp_path / "data")
    cfg = {"name": "fashion-mnist", "val_fraction": 0.1, "split_seed": 0}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh = datasets.load_splits(cfg, data_dir=tmp_path / "data", download=False)
        load, calls = _counting(cfg, data_dir=tmp_path / "data")
        data_cache.cached_splits(cfg, load, root=tmp_path / "cache", data_dir=tmp_path / "data")
        got, how = data_cache.cached_splits(cfg, load, root=tmp_path / "cache", data_dir=tmp_path / "data")
    assert how == "hit" and len(calls) == 1
    assert_identical(fresh, got)


def test_the_runner_reads_the_cache_and_run_keys_do_not_change(tmp_path, monkeypatch):
    from modbench.cache.store import RunStore
    from modbench.engine.runner import Runner
    from modbench.suite.runs import config_key

    config = {"dataset": dict(DIGITS), "seed": 0}
    before = config_key(config)
    Runner(RunStore(tmp_path), device=torch.device("cpu")).load_data(config)
    assert len(list((tmp_path / "data").glob("*.pt"))) == 1
    calls = []
    real = datasets.load_splits
    monkeypatch.setattr(datasets, "load_splits", lambda *a, **k: calls.append(1) or real(*a, **k))
    fresh_runner = Runner(RunStore(tmp_path), device=torch.device("cpu"))  # as another process
    got = fresh_runner.load_data(config).splits
    assert calls == []
    assert_identical(real(DIGITS, data_dir=None, download=False), got)
    assert config == {"dataset": dict(DIGITS), "seed": 0}  # nothing added to the run's configuration
    assert config_key(config) == before


def test_a_full_disk_costs_only_the_decode(tmp_path, monkeypatch):
    import errno

    from modbench.cache.atomic import CacheWriteError

    def full(path, data):
        raise CacheWriteError(path, OSError(errno.ENOSPC, "No space left on device"))

    monkeypatch.setattr(data_cache, "atomic_write_bytes", full)
    load, calls = _counting(DIGITS)
    got, how = data_cache.cached_splits(DIGITS, load, root=tmp_path)
    assert how == "uncached" and len(calls) == 1
    assert_identical(datasets.load_splits(DIGITS, data_dir=None, download=False), got)


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").is_file(),
                    reason="the real Fashion-MNIST files are not installed")
def test_real_fashion_mnist_hit_is_identical(tmp_path):
    cfg = {"name": "fashion-mnist", "val_fraction": 0.1, "split_seed": 0, "subset": 50}
    fresh = datasets.load_splits(cfg, data_dir=None, download=False)
    load, calls = _counting(cfg)
    data_cache.cached_splits(cfg, load, root=tmp_path)
    got, how = data_cache.cached_splits(cfg, load, root=tmp_path)
    assert how == "hit" and len(calls) == 1
    assert_identical(fresh, got)
    assert np.array_equal(fresh.test_images.numpy(), got.test_images.numpy())


def test_a_class_disjoint_split_is_cached_with_its_protocol(tmp_path):
    from modbench.suite.schema import DatasetConfig

    cfg = DatasetConfig(name="digits", split="class-disjoint").model_dump()
    fresh = datasets.load_splits(cfg, data_dir=None, download=False)
    assert fresh.protocol == "class-disjoint"
    load, calls = _counting(cfg)
    data_cache.cached_splits(cfg, load, root=tmp_path)
    got, how = data_cache.cached_splits(cfg, load, root=tmp_path)
    assert how == "hit" and len(calls) == 1
    assert_identical(fresh, got)
    assert data_cache.entry_key(cfg, data_dir=None, seed=None) != data_cache.entry_key(DIGITS, data_dir=None, seed=None)
