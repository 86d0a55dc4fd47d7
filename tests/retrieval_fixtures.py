"""Tiny copies of CUB-200-2011, Cars196, Stanford Online Products and In-Shop, written in each
publisher's on-disk format (text files, a MATLAB ``.mat`` struct, JPEG images), for tests.

Genuine formats, fake content: the class ids sit on each side of the standard train/test
boundary (CUB 1-100 | 101-200, Cars 1-98 | 99-196, SOP's train and test files, In-Shop's
train/query/gallery statuses), a few classes each; every image is a small JPEG whose colour
depends on its class (plus noise), so a network can tell the classes apart a little.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np


def _jpeg(path: Path, class_id: int, index: int, size=(28, 22)) -> None:
    from PIL import Image

    rng = np.random.default_rng(class_id * 1000 + index)
    base = np.array([(class_id * 67) % 256, (class_id * 131) % 256, (class_id * 29) % 256], dtype=np.float64)
    pixels = base[None, None, :] + rng.normal(0, 25, size=(size[1], size[0], 3))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB").save(path, format="JPEG", quality=90)


CUB_CLASSES = [*range(1, 7), *range(101, 107)]


def write_cub(root: Path, classes=CUB_CLASSES, per_class: int = 4) -> Path:
    """``root/CUB_200_2011/`` as the archive unpacks (images.txt, image_class_labels.txt,
    classes.txt, images/NNN.Name/Name_XXXX_NNN.jpg)."""
    folder = root / "CUB_200_2011"
    images, labels, names = [], [], []
    image_id = 0
    for cid in classes:
        cname = f"{cid:03d}.Bird_{cid}"
        names.append(f"{cid} {cname}")
        for j in range(per_class):
            image_id += 1
            rel = f"{cname}/Bird_{cid}_{j:04d}_{image_id}.jpg"
            _jpeg(folder / "images" / rel, cid, j)
            images.append(f"{image_id} {rel}")
            labels.append(f"{image_id} {cid}")
    (folder / "images.txt").write_text("\n".join(images) + "\n")
    (folder / "image_class_labels.txt").write_text("\n".join(labels) + "\n")
    (folder / "classes.txt").write_text("\n".join(names) + "\n")
    # Files of the archive the metric-learning loader does not read.
    (folder / "train_test_split.txt").write_text("".join(f"{i} {i % 2}\n" for i in range(1, image_id + 1)))
    (folder / "bounding_boxes.txt").write_text("".join(f"{i} 1.0 1.0 20.0 16.0\n" for i in range(1, image_id + 1)))
    return folder


def cub_archive(path: Path, workdir: Path) -> Path:
    """``CUB_200_2011.tgz`` as Caltech serves it: the folder above, gzip-compressed tar."""
    folder = write_cub(workdir)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname="CUB_200_2011")
    return path


CARS_CLASSES = [*range(1, 7), *range(99, 105)]


def write_cars(root: Path, classes=CARS_CLASSES, per_class: int = 4) -> Path:
    """``root/cars196/``: ``cars_annos.mat`` (struct array ``annotations`` with the publisher's
    seven fields, cell array ``class_names``) and ``car_ims/NNNNNN.jpg``."""
    import scipy.io

    folder = root / "cars196"
    fields = ["relative_im_path", "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "test"]
    rows = []
    n = 0
    for cid in classes:
        for j in range(per_class):
            n += 1
            rel = f"car_ims/{n:06d}.jpg"
            _jpeg(folder / rel, cid, j, size=(30, 18))
            rows.append((np.array([rel]), np.array([[1]], dtype=np.uint8), np.array([[2]], dtype=np.uint8),
                         np.array([[29]], dtype=np.uint8), np.array([[17]], dtype=np.uint8),
                         np.array([[cid]], dtype=np.uint8), np.array([[j % 2]], dtype=np.uint8)))
    annotations = np.empty((1, n), dtype=[(f, "O") for f in fields])
    for i, row in enumerate(rows):
        annotations[0, i] = row
    class_names = np.empty((1, 196), dtype=object)
    for i in range(196):
        class_names[0, i] = np.array([f"Car Model {i + 1} 2012"])
    scipy.io.savemat(folder / "cars_annos.mat", {"annotations": annotations, "class_names": class_names})
    return folder


SOP_TRAIN = list(range(1, 7))
SOP_TEST = list(range(11319, 11325))
SOP_CATEGORIES = ["bicycle", "chair", "kettle"]


def write_sop(root: Path, per_class: int = 3) -> Path:
    """``root/Stanford_Online_Products/``: Ebay_train.txt, Ebay_test.txt and
    ``<category>_final/<product>_<n>.JPG``."""
    folder = root / "Stanford_Online_Products"
    image_id = 0
    for file, classes in (("Ebay_train.txt", SOP_TRAIN), ("Ebay_test.txt", SOP_TEST)):
        lines = ["image_id class_id super_class_id path"]
        for cid in classes:
            sup = cid % len(SOP_CATEGORIES)
            for j in range(per_class):
                image_id += 1
                rel = f"{SOP_CATEGORIES[sup]}_final/{111085122000 + cid}_{j}.JPG"
                _jpeg(folder / rel, cid, j, size=(24, 24))
                lines.append(f"{image_id} {cid} {sup + 1} {rel}")
        (folder / file).write_text("\n".join(lines) + "\n")
    return folder


INSHOP_TRAIN = [2, 3, 5, 7, 8, 9]
# item -> (queries, gallery images); item 41 has gallery images only (a distractor).
INSHOP_TEST = {12: (2, 2), 13: (1, 2), 15: (2, 1), 20: (1, 3), 41: (0, 2)}


def write_inshop(root: Path, publisher_folders: bool = True) -> Path:
    """``root/InShop/``: ``Eval/list_eval_partition.txt`` and ``Img/img/...`` (the publisher's
    folders), or ``list_eval_partition.txt`` and ``img/`` side by side."""
    folder = root / "InShop"
    images_root = folder / "Img" if publisher_folders else folder
    lines = []

    def add(item: int, view: int, status: str) -> None:
        rel = f"img/WOMEN/Dresses/id_{item:08d}/{view:02d}_{view % 4 + 1}_front.jpg"
        _jpeg(images_root / rel, item, view, size=(20, 26))
        lines.append(f"{rel}  id_{item:08d}  {status}")

    for item in INSHOP_TRAIN:
        for v in range(3):
            add(item, v + 1, "train")
    for item, (queries, gallery) in INSHOP_TEST.items():
        for v in range(queries):
            add(item, v + 1, "query")
        for v in range(gallery):
            add(item, queries + v + 1, "gallery")
    partition = folder / "Eval" / "list_eval_partition.txt" if publisher_folders else folder / "list_eval_partition.txt"
    partition.parent.mkdir(parents=True, exist_ok=True)
    partition.write_text(f"{len(lines)}\nimage_name item_id evaluation_status\n" + "\n".join(lines) + "\n")
    return folder

