"""The run key holds a digest of the dataset files a run reads (datasets/locate.py): other files
(fixture or real, train and test swapped, a folder reached through a symbolic link that changed)
give another key, so a result computed on other data is never served."""

from __future__ import annotations

import json
import shutil

import pytest

import fixture_data as fixtures

from modbench.datasets import locate
from modbench.datasets.paths import files_digest
from modbench.suite.selection import select_runs

FM_SUITE = {
    "name": "fm",
    "dataset": {"name": "fashion-mnist", "subset": 4},
    "backbone": {"name": "small-cnn", "embedding_dim": 8},
    "train": {"epochs": 1, "batch_size": 16, "lr": 1.0e-3},
    "losses": [{"name": "cross-entropy"}],
}


def _keys(suite, data_dir):
    return [r.key for r in select_runs(str(suite), data_dir=data_dir).runs]


def test_cifar_file_names_are_torchvisions():
    from torchvision.datasets import CIFAR10, CIFAR100

    for name, cls in (("cifar10", CIFAR10), ("cifar100", CIFAR100)):
        base, files = locate.CIFAR_FILES[name]
        assert base == cls.base_folder
        assert files == [f for f, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]


def test_fashion_mnist_key_follows_the_files_read(tmp_path, write_suite):
    suite = write_suite(FM_SUITE, "fm.yaml")
    a, b = tmp_path / "a", tmp_path / "b"
    fixtures.write_fashion_mnist(a, per_class=3, test_per_class=2, seed=0, gz=True)
    fixtures.write_fashion_mnist(b, per_class=3, test_per_class=2, seed=1, gz=True)
    assert _keys(suite, a) == _keys(suite, a)  # the same files: the same key
    assert _keys(suite, a) != _keys(suite, b)  # other files of the same sizes: another key
    # train and test swapped (same bytes in the folder, other roles): another key
    before = _keys(suite, a)
    raw = a / "FashionMNIST" / "raw"
    for kind in ("images-idx3", "labels-idx1"):
        train, test = raw / f"train-{kind}-ubyte.gz", raw / f"t10k-{kind}-ubyte.gz"
        tmp = raw / "swap"
        train.rename(tmp)
        test.rename(train)
        tmp.rename(test)
    assert _keys(suite, a) != before


def test_fixture_files_and_the_real_ones_have_other_keys(tmp_path, write_suite):
    if locate.data_files("fashion-mnist", None) is None:
        pytest.skip(f"no real Fashion-MNIST in {locate.DEBIAN_DIR}")
    suite = write_suite(FM_SUITE, "fm.yaml")
    fixtures.write_fashion_mnist(tmp_path / "fx", per_class=3, test_per_class=2, gz=True)
    assert _keys(suite, tmp_path / "fx") != _keys(suite, None)


def test_cifar_key_follows_the_files_read(tmp_path, write_suite):
    suite = write_suite({**FM_SUITE, "dataset": {"name": "cifar10", "subset": 2}}, "c.yaml")
    fixtures.write_cifar10(tmp_path / "a", per_class=2, test_per_class=2, seed=0)
    fixtures.write_cifar10(tmp_path / "b", per_class=2, test_per_class=2, seed=1)
    assert _keys(suite, tmp_path / "a") != _keys(suite, tmp_path / "b")


def test_a_cached_result_of_other_files_is_not_served(tmp_path, write_suite, cli, cache_dir):
    """Fixture data in one folder, then other data under the same cache: trained again."""
    suite = write_suite(FM_SUITE, "fm.yaml")
    fixtures.write_fashion_mnist(tmp_path / "a", per_class=3, test_per_class=2, seed=0, gz=True)
    fixtures.write_fashion_mnist(tmp_path / "b", per_class=3, test_per_class=2, seed=1, gz=True)
    args = ("compare", "--suite", suite, "--cache-dir", cache_dir, "--device", "cpu", "--json")
    first = cli(*args, "--data-dir", tmp_path / "a")
    assert first.exit_code == 0, first.stderr
    second = cli(*args, "--data-dir", tmp_path / "b")
    assert second.exit_code == 0, second.stderr
    assert "1 trained" in second.stderr and "from the cache" not in second.stderr
    assert json.loads(first.stdout)[0]["run"] != json.loads(second.stdout)[0]["run"]


def test_files_changed_after_planning_are_refused(tmp_path, write_suite, cache_dir):
    """The Runner checks the files it loads against the digest the key was computed from."""
    import torch

    from modbench.cache.store import RunStore
    from modbench.engine.runner import Runner
    from modbench.errors import UserError

    suite = write_suite(FM_SUITE, "fm.yaml")
    fixtures.write_fashion_mnist(tmp_path / "a", per_class=3, test_per_class=2, seed=0, gz=True)
    run = select_runs(str(suite), data_dir=tmp_path / "a").runs[0]
    shutil.rmtree(tmp_path / "a")
    fixtures.write_fashion_mnist(tmp_path / "a", per_class=3, test_per_class=2, seed=1, gz=True)
    runner = Runner(RunStore(cache_dir), device=torch.device("cpu"), data_dir=tmp_path / "a")
    with pytest.raises(UserError, match="not the ones the runs were keyed by"):
        runner.data_for(run)


def test_files_digest_follows_symlinked_folders(tmp_path):
    """The loader reads through a symbolic link to a folder; so does the digest."""
    store = tmp_path / "store" / "train" / "cat"
    store.mkdir(parents=True)
    (store / "0.png").write_bytes(b"one")
    data = tmp_path / "data"
    data.mkdir()
    (data / "train").symlink_to(tmp_path / "store" / "train", target_is_directory=True)
    before = files_digest(data)
    (store / "0.png").write_bytes(b"other bytes")
    assert files_digest(data) != before
    (store / "1.png").write_bytes(b"a new image")
    assert len(locate.walk_files(data)) == 2


def test_a_symlink_loop_ends(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_bytes(b"x")
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a", target_is_directory=True)
    assert [p.name for p in locate.walk_files(tmp_path / "a")] == ["f"]
