"""``inshop``: DeepFashion In-Shop Clothes Retrieval (Liu et al. 2016) as its publisher
distributes it.

``DATA/InShop/`` holds the benchmark's ``Eval/list_eval_partition.txt`` and its images
(``Img/img.zip`` unpacked), either as the publisher's folders or flattened::

    Eval/list_eval_partition.txt  or  list_eval_partition.txt
    Img/img/WOMEN/Dresses/id_00000002/02_1_front.jpg ...  or  img/WOMEN/...

``list_eval_partition.txt``: line 1 the number of images, line 2 the column names
(``image_name item_id evaluation_status``), then ``img/<...>.jpg id_XXXXXXXX train|query|gallery``.
The publisher's split: 3,997 items (25,882 images) train; 3,985 other items test, their images
divided into 14,218 queries and 12,612 gallery images. The test split is queries and gallery
together, ``test_query_mask`` marks the queries, and every retrieval metric searches each query
among the gallery only (the benchmark's protocol; docs/metrics.md).

No ``--download``: the publisher shares the files through a Google Drive folder behind an
agreement form; place them by hand.
"""

from __future__ import annotations

from pathlib import Path

from modbench.datasets import _retrieval as r
from modbench.datasets import _torchvision as tv
from modbench.datasets.base import DataSplits
from modbench.datasets.locate import INSHOP_PARTITION as PARTITION
from modbench.datasets.locate import inshop_image_root, inshop_partition
from modbench.datasets.registration import register_dataset
from modbench.datasets.splits import reject_labels
from modbench.errors import UserError

NAME = "inshop"
FOLDER = "InShop"
STATUSES = ("train", "query", "gallery")


def items(folder: Path, path: Path) -> dict[str, list[r.Item]]:
    """The images of each evaluation status, in the file's order."""
    rows = r.read_rows(NAME, path, 1)
    if len(rows) < 2 or rows[0][0] != 1 or [f.lower() for f in rows[1][1][:3]] != [
            "image_name", "item_id", "evaluation_status"]:
        raise UserError(f"dataset '{NAME}': {path} does not start with the image count and the header "
                        "line 'image_name item_id evaluation_status'")
    declared = r.to_int(NAME, path, 1, rows[0][1][0], "image count")
    body = rows[2:]
    if declared != len(body):
        raise UserError(f"dataset '{NAME}': {path} declares {declared} images on line 1 but lists {len(body)}")
    root = inshop_image_root(folder)
    out: dict[str, list[r.Item]] = {s: [] for s in STATUSES}
    for n, fields in body:
        if len(fields) < 3:
            raise UserError(f"dataset '{NAME}': {path} line {n} has {len(fields)} field(s), expected 3")
        rel, item, status = fields[:3]
        if status not in out:
            raise UserError(f"dataset '{NAME}': {path} line {n}: evaluation_status {status[:20]!r} is not "
                            f"one of {', '.join(STATUSES)}")
        if not item.startswith("id_"):
            raise UserError(f"dataset '{NAME}': {path} line {n}: item_id {item[:20]!r} is not id_<digits>")
        cid = r.to_int(NAME, path, n, item[3:], "item_id")
        out[status].append(r.Item(root / rel, cid, item))
    return out


@register_dataset(
    "inshop",
    description="In-Shop Clothes Retrieval (list_eval_partition.txt + img/), queries searched among the gallery.",
    takes_image_size=True,
)
def load(*, data_dir: Path | None, download: bool = False, val_fraction: float = 0.1,
         split_seed: int = 0, subset: int | None = None, labels: str | None = None,
         image_size: int | None = None) -> DataSplits:
    reject_labels(NAME, labels)
    folder = tv.data_root(NAME, data_dir) / FOLDER
    path = inshop_partition(folder)
    if path is None:
        raise UserError(f"dataset '{NAME}' not found: {folder / 'Eval' / PARTITION} is missing; --download "
                        f"cannot fetch it (the publisher shares it behind a form): put Eval/{PARTITION} and "
                        f"Img/img/ in {folder} (docs/datasets.md)")
    parts = items(folder, path)
    query_ids = {it.class_id for it in parts["query"]}
    gallery_ids = {it.class_id for it in parts["gallery"]}
    if not parts["query"] or not parts["gallery"]:
        raise UserError(f"dataset '{NAME}': {path} lists no query or no gallery image")
    lonely = sorted(query_ids - gallery_ids)
    if lonely:
        raise UserError(f"dataset '{NAME}': {path}: item id_{lonely[0]:08d} has queries but no gallery image; "
                        "its queries could find nothing")
    test = parts["query"] + parts["gallery"]
    mask = [True] * len(parts["query"]) + [False] * len(parts["gallery"])
    return r.build(
        name=NAME, train=parts["train"], test=test, image_size=image_size or r.DEFAULT_IMAGE_SIZE,
        val_fraction=val_fraction, split_seed=split_seed, subset=subset, source=path, test_query_mask=mask,
        info={"source": f"{FOLDER}/{path.relative_to(folder).as_posix()}", "folder": str(folder),
              "split_source": "the publisher's evaluation_status: train; query and gallery form the test split",
              "test_order": "the queries (file order), then the gallery (file order)"},
    )
