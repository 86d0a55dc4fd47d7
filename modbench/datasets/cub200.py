"""``cub200``: CUB-200-2011 (Caltech-UCSD Birds, Wah et al. 2011) as Caltech distributes it.

``CUB_200_2011.tgz`` unpacks to ``DATA/CUB_200_2011/`` with::

    images.txt               <image_id> <path under images/>       (11,788 lines)
    image_class_labels.txt   <image_id> <class_id>                 (class ids 1..200)
    classes.txt              <class_id> <class name, e.g. 001.Black_footed_Albatross>
    images/<class folder>/<file>.jpg

The metric-learning split (Wah et al.'s ``train_test_split.txt`` is a classification split and
is not used): classes 1-100 train (5,864 images), classes 101-200 test (5,924 images).
``--download`` fetches the archive from Caltech's data repository (1.1 GB, md5 checked).
"""

from __future__ import annotations

from pathlib import Path

from modbench.datasets import _retrieval as r
from modbench.datasets import _torchvision as tv
from modbench.datasets.base import DataSplits
from modbench.datasets.registration import register_dataset
from modbench.datasets.splits import reject_labels
from modbench.errors import UserError

NAME = "cub200"
FOLDER = "CUB_200_2011"
URL = "https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz?download=1"
ARCHIVE = "CUB_200_2011.tgz"
MD5 = "97eceeb196236b17998738112f37df78"
FILES = ("images.txt", "image_class_labels.txt", "classes.txt")
TRAIN_CLASSES = range(1, 101)  # the standard halves: 1-100 train, 101-200 test


def fetch_archive(root: Path) -> None:
    """Fetch and unpack Caltech's archive into ``root`` (nothing left behind on failure)."""
    from torchvision.datasets import utils as tvu

    tv.download_into(NAME, root, FOLDER,
                     lambda tmp: tvu.download_and_extract_archive(URL, str(tmp), filename=ARCHIVE, md5=MD5))


def items(folder: Path) -> list[r.Item]:
    """Every image with its class, in the order of ``images.txt``."""
    hint = f"the layout is {FOLDER}/images.txt, image_class_labels.txt, classes.txt, images/ (pass --download)"
    paths = {f: r.require_file(NAME, folder / f, hint) for f in FILES}
    names = {}
    for n, (cid, cname, *_) in r.read_rows(NAME, paths["classes.txt"], 2):
        names[r.to_int(NAME, paths["classes.txt"], n, cid, "class id")] = cname
    label_of = {}
    for n, (iid, cid, *_) in r.read_rows(NAME, paths["image_class_labels.txt"], 2):
        label_of[iid] = r.to_int(NAME, paths["image_class_labels.txt"], n, cid, "class id")
    out = []
    for n, (iid, rel, *_) in r.read_rows(NAME, paths["images.txt"], 2):
        if iid not in label_of:
            raise UserError(f"dataset '{NAME}': {paths['images.txt']} line {n}: image {iid} has no "
                              f"class in {paths['image_class_labels.txt']}")
        cid = label_of[iid]
        if cid not in names:
            raise UserError(f"dataset '{NAME}': {paths['image_class_labels.txt']}: class {cid} of "
                              f"image {iid} is not in {paths['classes.txt']}")
        out.append(r.Item(folder / "images" / rel, cid, names[cid]))
    return out


@register_dataset(
    "cub200",
    description="CUB-200-2011 birds, class-disjoint (classes 1-100 train, 101-200 test); --download fetches it.",
    takes_image_size=True,
)
def load(*, data_dir: Path | None, download: bool = False, val_fraction: float = 0.1,
         split_seed: int = 0, subset: int | None = None, labels: str | None = None,
         image_size: int | None = None) -> DataSplits:
    reject_labels(NAME, labels)
    root = tv.data_root(NAME, data_dir)
    folder = root / FOLDER
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing and download:
        fetch_archive(root)
    elif missing:
        raise tv.missing_error(NAME, folder, missing)
    everything = items(folder)
    train = [it for it in everything if it.class_id in TRAIN_CLASSES]
    test = [it for it in everything if it.class_id not in TRAIN_CLASSES]
    return r.build(
        name=NAME, train=train, test=test, image_size=image_size or r.DEFAULT_IMAGE_SIZE,
        val_fraction=val_fraction, split_seed=split_seed, subset=subset, source=folder / "image_class_labels.txt",
        record_names=True,
        info={"source": f"{FOLDER} (images.txt, image_class_labels.txt, classes.txt)", "folder": str(folder),
              "split_source": "classes 1-100 train, 101-200 test (the metric-learning halves)"},
    )
