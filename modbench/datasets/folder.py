"""``folder``: your own images in the ImageFolder layout (``dataset: {name: folder, path: DIR}``).

::

    DIR/train/<class>/*.png|jpg|...   the official training split (-> train + validation)
    DIR/test/<class>/...              the test split (classes: a subset of train's; in
                                      class-disjoint mode any classes)
    DIR/val/<class>/...               optional: used as the validation split instead of
                                      val_fraction of train/

Classes are the sub-folder names of ``train/``, sorted (torchvision's ``find_classes``); files
with torchvision's image extensions are read with Pillow, in sorted order. Images are resized
(bilinear, antialiased) to ``image_size`` x ``image_size`` when the suite gives it, else to the
size of the first training image (first class, first file). Channels follow the images: 1 when
every image is greyscale, else 3 (greyscale images repeated, alpha dropped, palettes expanded).
Everything becomes one uint8 tensor per split, kept on the device like every dataset. No
augmentation: whether a flip or a crop keeps your classes is yours to know.

Every problem is a one-line UserError (exit 2) before anything trains: a missing folder, no
``train/`` or ``test/``, fewer than 2 classes, a class folder without images, a test class that
train/ lacks, an unreadable image.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from modbench.datasets import _images
from modbench.datasets.base import DataSplits
from modbench.datasets.class_disjoint import is_class_disjoint
from modbench.datasets.paths import resolve_data_path
from modbench.datasets.protocol import build_splits
from modbench.datasets.registration import register_dataset
from modbench.datasets.splits import check_arguments, reject_labels
from modbench.errors import UserError

NAME = "folder"
GREY_MODES = {"1", "L", "LA", "I", "I;16", "F"}


def _classes(split_dir: Path) -> list[str]:
    return sorted(p.name for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def _files(split_dir: Path, classes: list[str]) -> list[tuple[Path, int]]:
    from torchvision.datasets.folder import IMG_EXTENSIONS

    out = []
    for index, name in enumerate(classes):
        folder = split_dir / name
        if not folder.is_dir():
            continue
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS)
        if not files:
            raise UserError(f"dataset '{NAME}': {folder} holds no images "
                            f"({', '.join(IMG_EXTENSIONS[:3])}, ...); add some or remove the folder")
        out += [(f, index) for f in files]
    return out


def _read(path: Path) -> torch.Tensor:
    """uint8 [C, H, W], C = 1 (greyscale) or 3."""
    import numpy as np
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im = im.convert("L" if im.mode in GREY_MODES else "RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError) as e:
        raise UserError(f"dataset '{NAME}': cannot read image {path} ({type(e).__name__}: "
                        f"{' '.join(str(e).split())}); fix or remove the file") from None
    array = np.array(im, dtype=np.uint8)  # a copy: torch wants a writable buffer
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array))


def _split(split_dir: Path, classes: list[str]):
    files = _files(split_dir, classes)
    images = [_read(f) for f, _ in files]
    return images, torch.tensor([label for _, label in files], dtype=torch.int64), files


@register_dataset(
    "folder",
    description="Your own images: path: DIR with DIR/train/<class>/*.png|jpg, DIR/test/..., optional DIR/val/.",
    takes_path=True,
)
def load(*, data_dir: Path | None = None, download: bool = False, val_fraction: float = 0.1,
         split_seed: int = 0, subset: int | None = None, labels: str | None = None,
         path: str | None = None, image_size: int | None = None,
         split: dict | None = None) -> DataSplits:
    """The splits of the ImageFolder tree at ``path`` (``data_dir`` and ``download`` unused).
    In class-disjoint mode (``split``) the classes are the sub-folders of train/, test/ and val/
    together, sorted, and a test class need not be a training class."""
    protocol_split, disjoint = split, is_class_disjoint(split)  # below, ``split`` names a folder
    reject_labels(NAME, labels)
    check_arguments(NAME, val_fraction=val_fraction, subset=subset)
    if path is None:
        raise UserError(f"dataset '{NAME}' needs path: DIR in the suite's dataset")
    root = resolve_data_path(path)
    if not root.is_dir():
        raise UserError(f"dataset '{NAME}': {root} is not a folder (dataset.path)")
    for split in ("train", "test"):
        if not (root / split).is_dir():
            raise UserError(f"dataset '{NAME}': {root} has no {split}/ folder; the layout is "
                            f"{root}/train/<class>/*.png and {root}/test/<class>/*.png")
    classes = _classes(root / "train")
    _images.need_two_classes(NAME, str(root / "train"), classes)
    if disjoint:
        classes = sorted({c for s in ("train", "test", "val") if (root / s).is_dir() for c in _classes(root / s)})
    splits = {}
    for split in ("train", "test", "val"):
        split_dir = root / split
        if split == "val" and not split_dir.is_dir():
            continue
        extra = [] if disjoint else sorted(set(_classes(split_dir)) - set(classes))
        if extra:
            raise UserError(f"dataset '{NAME}': {split_dir / extra[0]} is a class that "
                            f"{root / 'train'} does not have; every {split} class needs training images")
        splits[split] = _split(split_dir, classes)

    first = splits["train"][0][0]
    size = (image_size, image_size) if image_size else tuple(first.shape[-2:])
    colour = any(im.shape[0] == 3 for images, _, _ in splits.values() for im in images)
    channels = 3 if colour else 1
    tensors = {split: (_images.resize(_images.to_channels(images, channels), size), y)
               for split, (images, y, _) in splits.items()}
    train_x, train_y = tensors["train"]
    test_x, test_y = tensors["test"]
    return build_splits(
        name=NAME,
        train_images=train_x,
        train_labels=train_y,
        test_images=test_x,
        test_labels=test_y,
        num_classes=len(classes),
        val_fraction=val_fraction,
        split_seed=split_seed,
        subset=subset,
        augment="none",
        classes=classes,
        val=tensors.get("val"),
        split=protocol_split,
        info={
            "source": "modbench.datasets.folder (Pillow)",
            "path": str(root),
            "image_size": list(size),
            "channels": channels,
            "val_from": "val/" if "val" in tensors else "train/ (val_fraction)",
            "files": {split: len(s[2]) for split, s in splits.items()},
            "sha256": _images.digest(train_x, test_x, *(tensors["val"][:1] if "val" in tensors else ())),
        },
    )
