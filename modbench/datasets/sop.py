"""``sop``: Stanford Online Products (Oh Song et al. 2016, "Lifted Structured Feature
Embedding") as its publisher distributes it.

``Stanford_Online_Products.zip`` unpacks to ``DATA/Stanford_Online_Products/`` with::

    Ebay_train.txt   header line "image_id class_id super_class_id path", then one image a line
    Ebay_test.txt    the same columns
    bicycle_final/111085122871_0.JPG ...   (12 category folders; ``path`` is relative to here)

The publisher's split is the metric-learning split: 11,318 product classes (59,551 images) in
``Ebay_train.txt``, 11,316 others (60,502 images) in ``Ebay_test.txt``; every image of the test
file is both a query and a candidate. The super-classes (12 categories) are not used.

No ``--download``: the publisher's address (an FTP server of Stanford's CVGL) cannot be checked
from here and has no published checksum; place the files by hand.
"""

from __future__ import annotations

from pathlib import Path

from modbench.datasets import _retrieval as r
from modbench.datasets import _torchvision as tv
from modbench.datasets.base import DataSplits
from modbench.datasets.registration import register_dataset
from modbench.datasets.splits import reject_labels
from modbench.errors import UserError

NAME = "sop"
FOLDER = "Stanford_Online_Products"
FILES = ("Ebay_train.txt", "Ebay_test.txt")
HEADER = ["image_id", "class_id", "super_class_id", "path"]


def items(folder: Path, file: str) -> list[r.Item]:
    path = folder / file
    rows = r.read_rows(NAME, path, 4)
    if not rows or [f.lower() for f in rows[0][1][:4]] != HEADER:
        raise UserError(f"dataset '{NAME}': {path} does not start with the header line "
                        f"'{' '.join(HEADER)}'")
    out = []
    for n, (_, cid, _, rel, *_) in rows[1:]:
        cid_int = r.to_int(NAME, path, n, cid, "class_id")
        out.append(r.Item(folder / rel, cid_int, str(cid_int)))
    return out


@register_dataset(
    "sop",
    description="Stanford Online Products (Ebay_train.txt / Ebay_test.txt), 11,318 / 11,316 classes.",
    takes_image_size=True,
)
def load(*, data_dir: Path | None, download: bool = False, val_fraction: float = 0.1,
         split_seed: int = 0, subset: int | None = None, labels: str | None = None,
         image_size: int | None = None) -> DataSplits:
    reject_labels(NAME, labels)
    folder = tv.data_root(NAME, data_dir) / FOLDER
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise UserError(f"dataset '{NAME}' not found: {folder / missing[0]} is missing; --download cannot "
                        f"fetch it (no checked publisher URL): unpack Stanford_Online_Products.zip in "
                        f"{folder.parent} (docs/datasets.md)")
    train, test = items(folder, FILES[0]), items(folder, FILES[1])
    return r.build(
        name=NAME, train=train, test=test, image_size=image_size or r.DEFAULT_IMAGE_SIZE,
        val_fraction=val_fraction, split_seed=split_seed, subset=subset, source=folder / FILES[0],
        info={"source": f"{FOLDER}/Ebay_train.txt, Ebay_test.txt", "folder": str(folder),
              "split_source": "the publisher's Ebay_train.txt (train) and Ebay_test.txt (test)"},
    )
