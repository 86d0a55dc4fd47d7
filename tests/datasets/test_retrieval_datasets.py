"""The retrieval datasets (cub200, cars196, sop, inshop) on tiny fixtures written in each
publisher's format (tests/retrieval_fixtures.py): splits, labels, validation classes, images,
errors, the run key's digest and CUB's download."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import retrieval_fixtures as fx
from modbench.datasets import DATASETS, TAKES_IMAGE_SIZE, locate
from modbench.errors import RunError, UserError

NAMES = ["cub200", "cars196", "sop", "inshop"]
WRITERS = {"cub200": fx.write_cub, "cars196": fx.write_cars, "sop": fx.write_sop, "inshop": fx.write_inshop}
# The fixture's (train, test) original class ids, written out independently of the loaders.
CLASSES = {
    "cub200": (list(range(1, 7)), list(range(101, 107))),
    "cars196": (list(range(1, 7)), list(range(99, 105))),
    "sop": (fx.SOP_TRAIN, fx.SOP_TEST),
    "inshop": (fx.INSHOP_TRAIN, sorted(fx.INSHOP_TEST)),
}


def load(name, data_dir, **kw):
    args = dict(data_dir=data_dir, download=False, val_fraction=0.34, split_seed=0, subset=None, labels=None,
                image_size=16)
    args.update(kw)
    return DATASETS.get(name)(**args)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("retrieval")
    for write in WRITERS.values():
        write(root)
    return root


@pytest.fixture
def own(tmp_path):
    """A private copy of one fixture, for tests that damage files: own(name) -> data folder."""

    def make(name):
        WRITERS[name](tmp_path)
        return tmp_path

    return make


def _expanded(ranges):
    return [i for a, b in ranges for i in range(a, b + 1)]


@pytest.mark.parametrize("name", NAMES)
def test_standard_class_disjoint_split(name, data_root):
    s = load(name, data_root)
    train_ids, test_ids = CLASSES[name]
    ids = s.info["class_ids"]
    kept, held, test = _expanded(ids["train"]), _expanded(ids["val"]), _expanded(ids["test"])
    # The publisher's training classes are split into trained-on and validation classes.
    assert sorted(kept + held) == train_ids and not set(kept) & set(held)
    assert len(held) == round(0.34 * len(train_ids)) == 2
    assert test == test_ids
    assert s.protocol == "class-disjoint" and s.info["protocol"] == "class-disjoint"
    # Labels: 0..K-1 of each split's own classes; the head sees the trained-on classes only.
    assert s.num_classes == len(kept)
    assert sorted(set(s.train_labels.tolist())) == list(range(len(kept)))
    assert sorted(set(s.val_labels.tolist())) == list(range(len(held)))
    assert sorted(set(s.test_labels.tolist())) == list(range(len(test)))
    assert s.train_images.dtype == torch.uint8 and tuple(s.train_images.shape[1:]) == (3, 16, 16)
    assert tuple(s.test_images.shape[1:]) == (3, 16, 16) and s.augment == "crop-flip"
    assert "split_source" in s.info and s.info["sizes"] == s.sizes()


@pytest.mark.parametrize("name", ["cub200", "cars196", "sop"])
def test_labels_follow_the_files(name, data_root):
    """Label k of the test split is the k-th smallest test class id; each image's colour (the
    fixture paints it by class) agrees with the class its label names."""
    s = load(name, data_root)
    test_ids = _expanded(s.info["class_ids"]["test"])
    for label in range(len(test_ids)):
        cid = test_ids[label]
        want = np.array([(cid * 67) % 256, (cid * 131) % 256, (cid * 29) % 256], dtype=np.float64)
        got = s.test_images[s.test_labels == label].double().mean(dim=(0, 2, 3)).numpy()
        assert np.abs(got - want).max() < 20, (cid, got, want)


def test_class_names_are_recorded_in_label_order(data_root):
    s = load("cub200", data_root)
    ids = s.info["class_ids"]
    for split in ("train", "val", "test"):
        assert s.info["class_names"][split] == [f"{c:03d}.Bird_{c}" for c in _expanded(ids[split])]
    assert s.classes == s.info["class_names"]["train"]
    cars = load("cars196", data_root)
    assert cars.info["class_names"]["test"][0] == "Car Model 99 2012"  # class_names[98] of the .mat


def test_inshop_query_gallery(data_root):
    s = load("inshop", data_root)
    queries = sum(q for q, _ in fx.INSHOP_TEST.values())
    gallery = sum(g for _, g in fx.INSHOP_TEST.values())
    assert s.test_query_mask.dtype == torch.bool and s.test_query_mask.tolist() == [True] * queries + [False] * gallery
    assert s.info["test_queries"] == queries and s.info["test_gallery"] == gallery
    # Item 41 (gallery only) is a test class too: a distractor in the gallery.
    assert 41 in _expanded(s.info["class_ids"]["test"])


def test_test_subset_keeps_the_query_mask_aligned(data_root):
    from modbench.datasets.splits import trim_test

    s = load("inshop", data_root)
    cut = trim_test(s, 2, seed=0)
    assert len(cut.test_query_mask) == len(cut.test_labels) < len(s.test_labels)
    # Each kept row keeps its own role: find it in the whole split by its pixels.
    for i in range(len(cut.test_labels)):
        j = next(j for j in range(len(s.test_labels)) if torch.equal(s.test_images[j], cut.test_images[i]))
        assert bool(cut.test_query_mask[i]) == bool(s.test_query_mask[j])


def test_inshop_flat_layout(tmp_path):
    fx.write_inshop(tmp_path, publisher_folders=False)
    s = load("inshop", tmp_path)
    assert s.sizes()["test"] == sum(q + g for q, g in fx.INSHOP_TEST.values())


def test_validation_classes_follow_the_seed(data_root):
    held = {tuple(_expanded(load("cub200", data_root, split_seed=seed).info["class_ids"]["val"])) for seed in range(6)}
    assert len(held) > 1  # another seed, other classes
    a = load("cub200", data_root, split_seed=3)
    b = load("cub200", data_root, split_seed=3)
    assert a.info["class_ids"] == b.info["class_ids"] and torch.equal(a.val_images, b.val_images)


def test_subset_and_default_size(data_root):
    s = load("cub200", data_root, subset=2, image_size=None)
    assert s.train_images.shape[-1] == 64  # the default size
    assert all(int((s.train_labels == c).sum()) == 2 for c in range(s.num_classes))
    # Validation classes have labels of their own: each is cut to N images too (the rule of
    # every class-disjoint split, splits.disjoint_subset_indices), not to the share of whichever
    # training class happens to carry the same number.
    full = load("cub200", data_root, subset=None, image_size=None)
    val_classes = sorted(set(full.val_labels.tolist()))
    assert val_classes and sorted(set(s.val_labels.tolist())) == val_classes
    assert all(int((s.val_labels == c).sum()) == min(2, int((full.val_labels == c).sum()))
               for c in val_classes)
    assert s.sizes()["test"] == 6 * 4  # the test split is never cut by subset


def test_image_is_resized_by_its_shorter_side_and_centre_cropped(tmp_path):
    """A wide image: left third red, middle green, right third blue -> the square centre crop
    is green."""
    from PIL import Image

    from modbench.datasets._retrieval import read_image

    a = np.zeros((10, 30, 3), dtype=np.uint8)
    a[:, :10, 0] = 255
    a[:, 10:20, 1] = 255
    a[:, 20:, 2] = 255
    Image.fromarray(a).save(tmp_path / "wide.png")
    out = read_image("cub200", tmp_path / "wide.png", 8)
    assert out.shape == (3, 8, 8)
    assert out[1].float().mean() > 200 and out[0].float().mean() < 60 and out[2].float().mean() < 60


@pytest.mark.parametrize("mode", ["L", "CMYK", "RGB"])
def test_greyscale_and_cmyk_jpegs_become_rgb(mode, tmp_path):
    """CUB holds a few greyscale JPEGs; CMYK JPEGs occur in web-scraped sets (SOP)."""
    from PIL import Image

    from modbench.datasets._retrieval import read_image

    Image.new("RGB", (40, 30), (200, 120, 40)).convert(mode).save(tmp_path / "x.jpg", format="JPEG")
    out = read_image("sop", tmp_path / "x.jpg", 12)
    assert out.shape == (3, 12, 12) and out.dtype == torch.uint8
    with Image.open(tmp_path / "x.jpg") as im:
        want = np.asarray(im.convert("RGB"), dtype=np.float64).mean(axis=(0, 1))
    assert np.abs(out.double().mean(dim=(1, 2)).numpy() - want).max() < 3


def test_registered_with_image_size():
    assert set(NAMES) <= set(DATASETS.names()) and set(NAMES) <= TAKES_IMAGE_SIZE


# -- missing and malformed files: one line, naming the file ----------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("cub200", "CUB_200_2011.*images.txt.*--download"),
    ("cars196", "cars_annos.mat is missing.*car_ims"),
    ("sop", "Ebay_train.txt is missing"),
    ("inshop", "list_eval_partition.txt is missing"),
])
def test_missing_files(name, expected, tmp_path):
    with pytest.raises(UserError, match=expected) as e:
        load(name, tmp_path / "empty")
    assert "\n" not in str(e.value)


def _damage(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new, 1))


@pytest.mark.parametrize("name, damage, expected", [
    ("cub200", lambda r: _damage(r / "CUB_200_2011/images.txt", "1 001", "1"), r"images.txt line 1 has 1 field"),
    ("cub200", lambda r: _damage(r / "CUB_200_2011/image_class_labels.txt", "1 1\n", "1 x\n"),
     r"image_class_labels.txt line 1: class id 'x'"),
    ("cub200", lambda r: (r / "CUB_200_2011/images/001.Bird_1/Bird_1_0000_1.jpg").unlink(),
     r"image .*Bird_1_0000_1.jpg not found"),
    ("cub200", lambda r: (r / "CUB_200_2011/images/101.Bird_101/Bird_101_0000_25.jpg").write_bytes(b"not a jpeg"),
     r"cannot read image .*Bird_101_0000_25.jpg"),
    ("cars196", lambda r: (r / "cars196/cars_annos.mat").write_bytes(b"garbage"), r"cars_annos.mat as a MATLAB file"),
    ("sop", lambda r: _damage(r / "Stanford_Online_Products/Ebay_test.txt", "image_id", "id"),
     r"Ebay_test.txt does not start with the header"),
    ("inshop", lambda r: _damage(r / "InShop/Eval/list_eval_partition.txt", "train", "training"),
     r"evaluation_status 'training'"),
    ("inshop", lambda r: _damage(r / "InShop/Eval/list_eval_partition.txt", "\n", "0\n"),
     r"declares .* images on line 1"),
])
def test_malformed_files(name, damage, expected, own):
    root = own(name)
    damage(root)
    with pytest.raises(UserError, match=expected) as e:
        load(name, root)
    assert "\n" not in str(e.value)


def test_inshop_query_without_gallery_is_refused(own):
    root = own("inshop")
    p = root / "InShop/Eval/list_eval_partition.txt"
    lines = p.read_text().splitlines()
    lines = [ln for ln in lines if not (ln.startswith("img/WOMEN/Dresses/id_00000013/") and "gallery" in ln)]
    lines[0] = str(len(lines) - 2)
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match="id_00000013 has queries but no gallery image"):
        load("inshop", root)


def test_cli_exit_code_2_names_the_file(tmp_path, write_suite, cli, cache_dir):
    suite = write_suite({"name": "cub", "dataset": {"name": "cub200", "image_size": 16},
                         "backbone": {"name": "small-cnn", "embedding_dim": 8},
                         "train": {"epochs": 1, "batch_size": 8, "lr": 1.0e-3},
                         "losses": [{"name": "cross-entropy"}]})
    result = cli("compare", "--suite", suite, "--cache-dir", cache_dir, "--device", "cpu",
                 "--data-dir", tmp_path / "nothing")
    assert result.exit_code == 2, result.stderr
    assert "images.txt" in result.stderr and "Traceback" not in result.stderr


# -- the run key follows the files --------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_digest_follows_the_annotation_files_and_images(name, own, tmp_path):
    assert locate.data_digest(name, tmp_path / "none") == locate.ABSENT
    root = own(name)
    first = locate.data_digest(name, root)
    assert first not in (None, locate.ABSENT) and first == locate.data_digest(name, root)
    image = next(p for p in sorted(root.rglob("*")) if p.suffix.lower() == ".jpg")
    image.write_bytes(image.read_bytes() + b"\0")  # an image changed: another digest
    assert locate.data_digest(name, root) != first


# -- download ---------------------------------------------------------------------------------------

@pytest.fixture
def served(tmp_path):
    """A local HTTP server of one folder: served(folder) -> base URL."""
    servers = []

    def serve(folder: Path) -> str:
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        handler.log_message = lambda *a, **k: None
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_cub_download_fetches_and_unpacks_the_archive(tmp_path, served, monkeypatch):
    from modbench.datasets import cub200

    site = tmp_path / "site"
    site.mkdir()
    archive = fx.cub_archive(site / "CUB_200_2011.tgz", tmp_path / "build")
    monkeypatch.setattr(cub200, "URL", served(site) + "/CUB_200_2011.tgz?download=1")
    monkeypatch.setattr(cub200, "MD5", hashlib.md5(archive.read_bytes()).hexdigest())
    root = tmp_path / "data"
    s = load("cub200", root, download=True)
    assert s.sizes()["test"] == 24 and (root / "CUB_200_2011" / "images.txt").is_file()
    assert sorted(p.name for p in root.iterdir()) == ["CUB_200_2011"]  # no archive, no temporary folder
    # Present now: no second download (the server is gone).
    monkeypatch.setattr(cub200, "URL", "http://127.0.0.1:9/none.tgz")
    assert load("cub200", root, download=True).sizes() == s.sizes()


def test_cub_download_with_a_wrong_checksum_leaves_nothing(tmp_path, served, monkeypatch):
    from modbench.datasets import cub200

    site = tmp_path / "site"
    site.mkdir()
    fx.cub_archive(site / "CUB_200_2011.tgz", tmp_path / "build")
    monkeypatch.setattr(cub200, "URL", served(site) + "/CUB_200_2011.tgz")
    root = tmp_path / "data"
    with pytest.raises(RunError, match="cub200.*download failed"):
        load("cub200", root, download=True)  # the published md5 is not the fixture's
    assert not root.exists()


@pytest.mark.parametrize("name", ["cars196", "sop", "inshop"])
def test_download_is_refused_where_the_publisher_offers_none(name, tmp_path):
    with pytest.raises(UserError, match="--download cannot fetch it"):
        load(name, tmp_path, download=True)
