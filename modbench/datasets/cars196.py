"""``cars196``: Stanford Cars (Krause et al. 2013) in the layout its publisher distributed.

``DATA/cars196/`` holds what the Stanford page offered for the whole dataset::

    cars_annos.mat   MATLAB file: ``annotations`` (1 x 16,185 struct array with fields
                     relative_im_path ('car_ims/000001.jpg'), bbox_x1, bbox_y1, bbox_x2, bbox_y2,
                     class (1..196), test (0/1: the classification split, not used here)) and
                     ``class_names`` (1 x 196 cell array of names)
    car_ims/000001.jpg ...   (car_ims.tgz unpacked)

Read with ``scipy.io.loadmat``. The metric-learning split: classes 1-98 train (8,054 images),
99-196 test (8,131 images). Bounding boxes are not used (the usual uncropped protocol).

No ``--download``: the publisher's URLs (ai.stanford.edu/~jkrause/car196/) no longer serve the
files, and the copies elsewhere are not the publisher's; place the files by hand.
"""

from __future__ import annotations

from pathlib import Path

from modbench.datasets import _retrieval as r
from modbench.datasets import _torchvision as tv
from modbench.datasets.base import DataSplits
from modbench.datasets.registration import register_dataset
from modbench.datasets.splits import reject_labels
from modbench.errors import UserError

NAME = "cars196"
FOLDER = "cars196"
ANNOS = "cars_annos.mat"
TRAIN_CLASSES = range(1, 99)  # the standard halves: 1-98 train, 99-196 test


def _text(value) -> str:
    """A MATLAB char array as loadmat gives it (a 1-element numpy array of str) -> str."""
    import numpy as np

    a = np.asarray(value)
    return str(a.reshape(-1)[0]) if a.size else ""


def items(folder: Path) -> list[r.Item]:
    """Every image with its class, in the order of ``annotations``."""
    import numpy as np
    import scipy.io

    path = folder / ANNOS
    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as e:  # scipy raises ValueError, TypeError, MatReadError... on a foreign file
        raise UserError(f"dataset '{NAME}': cannot read {path} as a MATLAB file ({type(e).__name__}: "
                        f"{' '.join(str(e).split())[:120]})") from None
    annos = mat.get("annotations")
    if not isinstance(annos, np.ndarray) or annos.dtype.names is None:
        raise UserError(f"dataset '{NAME}': {path} has no 'annotations' struct array")
    for field in ("relative_im_path", "class"):
        if field not in annos.dtype.names:
            raise UserError(f"dataset '{NAME}': {path}: 'annotations' lacks the field '{field}'")
    names = {}
    if "class_names" in mat:
        names = {i + 1: _text(v) for i, v in enumerate(np.asarray(mat["class_names"]).reshape(-1))}
    out = []
    for i, a in enumerate(annos.reshape(-1)):
        rel = _text(a["relative_im_path"])
        try:
            cid = int(np.asarray(a["class"]).reshape(-1)[0])
        except (IndexError, TypeError, ValueError):
            raise UserError(f"dataset '{NAME}': {path}: annotation {i + 1} has no integer class") from None
        if not rel:
            raise UserError(f"dataset '{NAME}': {path}: annotation {i + 1} has no relative_im_path")
        out.append(r.Item(folder / rel, cid, names.get(cid, str(cid))))
    return out


@register_dataset(
    "cars196",
    description="Stanford Cars (cars_annos.mat + car_ims/), class-disjoint (classes 1-98 train, 99-196 test).",
    takes_image_size=True,
)
def load(*, data_dir: Path | None, download: bool = False, val_fraction: float = 0.1,
         split_seed: int = 0, subset: int | None = None, labels: str | None = None,
         image_size: int | None = None) -> DataSplits:
    reject_labels(NAME, labels)
    folder = tv.data_root(NAME, data_dir) / FOLDER
    if not (folder / ANNOS).is_file():
        raise UserError(f"dataset '{NAME}' not found: {folder / ANNOS} is missing; --download cannot "
                        f"fetch it (the publisher's URLs no longer serve it): put cars_annos.mat and "
                        f"car_ims/ in {folder} (docs/datasets.md)")
    everything = items(folder)
    train = [it for it in everything if it.class_id in TRAIN_CLASSES]
    test = [it for it in everything if it.class_id not in TRAIN_CLASSES]
    return r.build(
        name=NAME, train=train, test=test, image_size=image_size or r.DEFAULT_IMAGE_SIZE,
        val_fraction=val_fraction, split_seed=split_seed, subset=subset, source=folder / ANNOS,
        record_names=True,
        info={"source": f"{FOLDER}/{ANNOS} (scipy.io.loadmat) and car_ims/", "folder": str(folder),
              "split_source": "classes 1-98 train, 99-196 test (the metric-learning halves)"},
    )
