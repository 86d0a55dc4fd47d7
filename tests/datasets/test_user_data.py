"""Your own data: an ImageFolder tree (``folder``) and a ``.npz`` (``npz``), written here with
Pillow and numpy, loaded and trained end to end; and their bad inputs (one line, exit 2)."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from modbench.datasets import folder, npz
from modbench.errors import UserError


def _pattern(label: int, rng, size: int, colour: bool) -> np.ndarray:
    """A learnable image: a bright band whose row depends on the class, plus noise."""
    x = rng.integers(0, 60, size=(size, size, 3) if colour else (size, size), dtype=np.uint8)
    x[2 * label: 2 * label + 3] = 220
    return x


def write_tree(root, *, classes=("cat", "dog", "owl"), train=6, test=3, size=12, colour=False,
               val=0, seed=0):
    rng = np.random.default_rng(seed)
    for split, n in (("train", train), ("test", test), ("val", val)):
        for label, name in enumerate(classes):
            if not n:
                continue
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(_pattern(label, rng, size, colour)).save(root / split / name / f"{i}.png")
    return root


def write_npz(path, *, n=8, size=10, labels=(3, 7, 9), channels=None, seed=0, **override):
    rng = np.random.default_rng(seed)

    def split(per_class):
        y = np.repeat(np.array(labels), per_class)
        x = np.stack([_pattern(i // per_class, rng, size, False) for i in range(len(y))])
        if channels:
            x = np.repeat(x[..., None], channels, axis=3)
        return x, y

    train_x, train_y = split(n)
    test_x, test_y = split(3)
    arrays = dict(train_images=train_x, train_labels=train_y, test_images=test_x, test_labels=test_y)
    arrays.update(override)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return path


# -- loaders -------------------------------------------------------------------------------


def test_folder_loads_the_pixels_pillow_reads(tmp_path):
    root = write_tree(tmp_path / "imgs")
    s = folder.load(path=str(root))
    assert s.classes == ["cat", "dog", "owl"] and s.num_classes == 3
    assert s.train_images.shape[1:] == (1, 12, 12) and s.train_images.dtype == torch.uint8
    assert len(s.train_labels) + len(s.val_labels) == 18 and len(s.test_labels) == 9
    # The test split keeps the files' sorted order: compare with Pillow, file by file.
    expected = [np.asarray(Image.open(root / "test" / c / f"{i}.png"))
                for c in ("cat", "dog", "owl") for i in range(3)]
    assert torch.equal(s.test_images[:, 0], torch.from_numpy(np.stack(expected)))
    assert s.test_labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert s.augment == "none" and len(s.info["sha256"]) == 64


def test_folder_rgb_resize_and_val_folder(tmp_path):
    root = write_tree(tmp_path / "imgs", colour=True, val=2, size=16)
    # one greyscale image among colour ones: it becomes 3 channels like the others
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(root / "train" / "cat" / "grey.png")
    s = folder.load(path=str(root), image_size=8)
    assert s.train_images.shape[1:] == (3, 8, 8) and s.test_images.shape[1:] == (3, 8, 8)
    assert len(s.val_labels) == 6 and len(s.train_labels) == 19  # val/ used as it is
    assert s.info["val_from"] == "val/"


def test_folder_default_size_is_the_first_training_image(tmp_path):
    root = write_tree(tmp_path / "imgs", size=12)
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(root / "test" / "dog" / "big.png")
    s = folder.load(path=str(root))
    assert s.test_images.shape[1:] == (1, 12, 12)


def test_npz_loads_the_arrays(tmp_path):
    file = write_npz(tmp_path / "d.npz", channels=3)
    s = npz.load(path=str(file), val_fraction=0.25)
    with np.load(file) as raw:
        assert torch.equal(s.test_images, torch.from_numpy(raw["test_images"]).permute(0, 3, 1, 2))
        assert s.classes == ["3", "7", "9"]
        assert s.test_labels.tolist() == np.searchsorted([3, 7, 9], raw["test_labels"]).tolist()
        both = torch.cat([s.train_images, s.val_images]).permute(0, 2, 3, 1).numpy()
        assert sorted(map(bytes, both)) == sorted(map(bytes, raw["train_images"]))
    assert len(s.val_labels) == 6  # 25% of 8 per class


def test_npz_grey_with_val_arrays_and_resize(tmp_path):
    rng = np.random.default_rng(1)
    file = write_npz(tmp_path / "d.npz", val_images=rng.integers(0, 255, (4, 10, 10), np.uint8),
                     val_labels=np.array([3, 7, 9, 9]))
    s = npz.load(path=str(file), image_size=6)
    assert s.train_images.shape == (24, 1, 6, 6) and s.val_labels.tolist() == [0, 1, 2, 2]


# -- bad input: one line each ------------------------------------------------------------


def _message(fn, **kwargs) -> str:
    with pytest.raises(UserError) as info:
        fn(**kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_folder_bad_inputs(tmp_path):
    assert "not a folder" in _message(folder.load, path=str(tmp_path / "nothing"))
    root = write_tree(tmp_path / "a")
    (root / "test").rename(tmp_path / "a-test")
    assert "no test/ folder" in _message(folder.load, path=str(root))

    one = write_tree(tmp_path / "one", classes=("cat",))
    assert "1 class(es)" in _message(folder.load, path=str(one))

    extra = write_tree(tmp_path / "extra")
    (extra / "test" / "eel").mkdir()
    Image.fromarray(np.zeros((12, 12), np.uint8)).save(extra / "test" / "eel" / "0.png")
    assert "eel" in _message(folder.load, path=str(extra))

    empty = write_tree(tmp_path / "empty")
    (empty / "train" / "zebra").mkdir()
    assert "zebra holds no images" in _message(folder.load, path=str(empty))

    broken = write_tree(tmp_path / "broken")
    (broken / "train" / "dog" / "3.png").write_bytes(b"not a png at all")
    message = _message(folder.load, path=str(broken))
    assert "cannot read image" in message and "3.png" in message


@pytest.mark.parametrize("case,expected", [
    ("float-images", "must be uint8"),
    ("object-labels", "pickle"),
    ("missing-array", "no array 'test_labels'"),
    ("length-mismatch", "must match"),
    ("size-mismatch", "give image_size"),
    ("unknown-test-label", "label 5"),
    ("one-class", "1 class(es)"),
    ("not-a-zip", "not a readable .npz"),
    ("4-d-labels", "1-D"),
])
def test_npz_bad_inputs(tmp_path, case, expected):
    file = tmp_path / "d.npz"
    if case == "float-images":
        write_npz(file, train_images=np.zeros((24, 10, 10), np.float32))
    elif case == "object-labels":
        write_npz(file, train_labels=np.array([object()] * 24, dtype=object))
    elif case == "missing-array":
        write_npz(file, test_labels=None)
    elif case == "length-mismatch":
        write_npz(file, train_labels=np.zeros(5, np.int64))
    elif case == "size-mismatch":
        write_npz(file, test_images=np.zeros((9, 12, 12), np.uint8))
    elif case == "unknown-test-label":
        write_npz(file, test_labels=np.array([3, 5, 9] * 3))
    elif case == "one-class":
        write_npz(file, labels=(4,))
    elif case == "not-a-zip":
        file.write_bytes(b"hello")
    else:
        write_npz(file, train_labels=np.zeros((24, 2), np.int64))
    assert expected in _message(npz.load, path=str(file))


def test_npz_declared_size_checked_before_reading(tmp_path, monkeypatch):
    # A header claiming far more data than the member holds is refused from the header alone:
    # numpy.load is never reached.
    file = tmp_path / "huge.npz"
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 1, 1), np.uint8))
    header["shape"] = (10**6, 1000, 1000)
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(file, "w") as zf:
        zf.writestr("train_images.npy", buf.getvalue() + b"\0" * 100)
        for name in ("train_labels", "test_images", "test_labels"):
            one = io.BytesIO()
            np.save(one, np.zeros((2, 2, 2) if "images" in name else 2, np.uint8))
            zf.writestr(f"{name}.npy", one.getvalue())
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("np.load was called"))
    message = _message(npz.load, path=str(file))
    assert "declares" in message and "train_images" in message


# -- through the suite and the command line -------------------------------------------------


def _suite(dataset: dict) -> dict:
    return {
        "name": "mine",
        "dataset": dataset,
        "backbone": {"name": "small-cnn", "embedding_dim": 8},
        "train": {"epochs": 1, "batch_size": 16, "lr": 1.0e-3},
        "losses": [{"name": "cross-entropy"}],
    }


@pytest.mark.parametrize("kind", ["folder", "npz"])
def test_trains_end_to_end_with_a_path_relative_to_the_suite(kind, tmp_path, write_suite, cli,
                                                             monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    if kind == "folder":
        write_tree(project / "images")
        dataset = {"name": "folder", "path": "images"}
    else:
        write_npz(project / "arrays.npz")
        dataset = {"name": "npz", "path": "arrays.npz"}
    suite = project / "suite.yaml"
    suite.write_text(json.dumps(_suite(dataset)))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # relative to the suite file, not to the current directory
    result = cli("compare", "--suite", suite, "--json")
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["status"] == "done" and row["dataset"] == kind
    # Each class has its own bright band: neighbours find it (chance is 1/3) unless the loader
    # mixed up images and labels.
    assert row["recall@1"] >= 0.6


@pytest.mark.parametrize("dataset,key,expected", [
    ({"name": "folder"}, "dataset.path", "needs path"),
    ({"name": "folder", "path": "no-such-folder"}, "dataset.path", "does not exist"),
    ({"name": "digits", "path": "x"}, "dataset.path", "takes no path"),
    ({"name": "digits", "image_size": 8}, "dataset.image_size", "takes no image_size"),
])
def test_suite_keys_checked_at_load(dataset, key, expected, write_suite, cli):
    result = cli("train", "--suite", write_suite(_suite(dataset)))
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line and key in line and expected in line and "Traceback" not in line


def test_bad_folder_is_exit_2_before_training(tmp_path, write_suite, cli, cache_dir):
    root = write_tree(tmp_path / "imgs", classes=("only",))
    result = cli("compare", "--suite", write_suite(_suite({"name": "folder", "path": str(root)})))
    assert result.exit_code == 2 and "1 class(es)" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (cache_dir / "runs").exists() or not any((cache_dir / "runs").iterdir())


def test_changed_files_train_again(tmp_path, cache_dir):
    import os

    import modbench

    root = write_tree(tmp_path / "imgs")
    suite = _suite({"name": "folder", "path": str(root)})
    assert [r["status"] for r in modbench.train(suite, cache_dir=cache_dir)] == ["trained"]
    assert [r["status"] for r in modbench.train(suite, cache_dir=cache_dir)] == ["cached"]
    image = root / "train" / "dog" / "0.png"
    Image.fromarray(np.full((12, 12), 255, np.uint8)).save(image)
    os.utime(image, ns=(1, 1))  # a new modification time, whatever the clock's resolution
    again = modbench.train(suite, cache_dir=cache_dir)
    assert [r["status"] for r in again] == ["trained"]


@pytest.mark.parametrize("kind", ["npz", "fashion-mnist"])
def test_the_files_digest_is_no_difference_from_the_suite(kind, tmp_path, cli, monkeypatch):
    """The digest of the data files is computed, never written in a suite: a report of runs on
    the suite's own files lists no difference from it (for a dataset found in the data folder it
    used to say "dataset.files_digest ... (the suite says not set)" and put the digest in every
    table title)."""
    import fixture_data

    if kind == "npz":
        write_npz(tmp_path / "arrays.npz")
        dataset = {"name": "npz", "path": "arrays.npz"}
    else:
        fixture_data.write_fashion_mnist(tmp_path / "data", per_class=3, test_per_class=2, seed=0, gz=True)
        monkeypatch.setenv("MODBENCH_DATA", str(tmp_path / "data"))
        dataset = {"name": "fashion-mnist", "subset": 3}
    suite = tmp_path / "suite.yaml"
    suite.write_text(json.dumps(_suite(dataset)))
    cache = tmp_path / "cache"
    compared = cli("compare", "--suite", suite, "--cache-dir", cache)
    assert compared.exit_code == 0
    assert "files_digest" not in compared.stdout  # compare's tables say the same as report's
    assert "files\\_digest" not in cli("compare", "--suite", suite, "--cache-dir", cache, "--markdown").stdout
    result = cli("report", "--suite", suite, "--cache-dir", cache, "--markdown")
    assert result.exit_code == 0, result.stderr
    assert "files\\_digest" not in result.stdout  # no title suffix, no "Differs from the suite" item
    # Other files in the same place are a difference, and the report says so.
    if kind == "npz":
        write_npz(tmp_path / "arrays.npz", seed=1)
    else:
        fixture_data.write_fashion_mnist(tmp_path / "data", per_class=3, test_per_class=2, seed=1, gz=True)
    result = cli("report", "--suite", suite, "--cache-dir", cache, "--markdown")
    assert "files\\_digest" in result.stdout
