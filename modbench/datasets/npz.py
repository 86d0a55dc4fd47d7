"""``npz``: your own arrays (``dataset: {name: npz, path: FILE}``), as ``numpy.savez`` writes them.

Arrays: ``train_images``, ``test_images`` (uint8, N x H x W for greyscale or N x H x W x C with
C = 1 or 3), ``train_labels``, ``test_labels`` (integers, N); optional ``val_images`` and
``val_labels``, used as the validation split instead of ``val_fraction`` of the training split.
Labels may be any non-negative integers: the sorted distinct training labels become classes
0..K-1 (named by their values); a test label that training lacks is refused, except in
class-disjoint mode (``dataset.split``), where the classes are the distinct labels of every split.

The file is a zip of ``.npy`` members. Before any array is read, each member's ``.npy`` header is
read from the zip (``numpy.lib.format``) and its declared dtype, shape and size are checked: a
non-uint8 image array, an object array (which would need pickle), or a declared size above
``MAX_ARRAY_BYTES`` or beyond what the member holds is refused without reading the data. The
arrays are then loaded with ``allow_pickle=False``. Train and test images must have the same
height, width and channels unless ``image_size`` resizes both.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from modbench.datasets import _images
from modbench.datasets.base import DataSplits
from modbench.datasets.class_disjoint import is_class_disjoint
from modbench.datasets.paths import resolve_data_path
from modbench.datasets.protocol import build_splits
from modbench.datasets.registration import register_dataset
from modbench.datasets.splits import check_arguments, reject_labels
from modbench.errors import UserError

NAME = "npz"
REQUIRED = ("train_images", "train_labels", "test_images", "test_labels")
OPTIONAL = ("val_images", "val_labels")
MAX_ARRAY_BYTES = 16 << 30  # 16 GiB per array: beyond that no device holds the split anyway
HINT = ("save it with numpy.savez(path, train_images=..., train_labels=..., test_images=..., "
        "test_labels=...)")


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _header(zf: zipfile.ZipFile, member: str, where: str) -> tuple[tuple[int, ...], np.dtype]:
    """Declared (shape, dtype) of ``member`` from its .npy header, checked against the zip entry."""
    info = zf.getinfo(member)
    try:
        with zf.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f".npy format version {version} is not supported")
            offset = f.tell()
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise UserError(f"{where}: array '{member[:-4]}' has an unreadable header "
                        f"({_one_line(e)}); {HINT}") from None
    if dtype.hasobject:
        raise UserError(f"{where}: array '{member[:-4]}' holds Python objects (it would need "
                        "pickle, which is refused); store numbers")
    declared = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if declared > MAX_ARRAY_BYTES:
        raise UserError(f"{where}: array '{member[:-4]}' declares {declared} bytes, more than "
                        f"the limit of {MAX_ARRAY_BYTES}")
    if offset + declared > info.file_size:
        raise UserError(f"{where}: array '{member[:-4]}' declares shape {shape} but the file holds "
                        f"only {info.file_size - offset} bytes of it (truncated?)")
    return tuple(shape), dtype


def _check_declared(name: str, shape, dtype, where: str) -> None:
    if name.endswith("_images"):
        if dtype != np.uint8:
            raise UserError(f"{where}: '{name}' must be uint8 (0-255 pixels), got {dtype}; "
                            "convert with (x * 255).round().astype(numpy.uint8) if in [0, 1]")
        if len(shape) not in (3, 4) or (len(shape) == 4 and shape[3] not in (1, 3)):
            raise UserError(f"{where}: '{name}' must be N x H x W or N x H x W x C with C = 1 or "
                            f"3, got shape {shape}")
        if len(shape) >= 3 and min(shape[1:3]) < 1:
            raise UserError(f"{where}: '{name}' has empty images (shape {shape})")
    else:
        if dtype.kind not in "iu":
            raise UserError(f"{where}: '{name}' must hold integers, got {dtype}")
        if len(shape) != 1:
            raise UserError(f"{where}: '{name}' must be 1-D (one label per image), got shape {shape}")


def read_arrays(file: Path) -> dict[str, np.ndarray]:
    """The checked arrays of ``file`` (see the module docstring)."""
    where = f"dataset '{NAME}': {file}"
    if not file.is_file():
        raise UserError(f"{where} is not a file (dataset.path)")
    try:
        with zipfile.ZipFile(file) as zf:
            members = {m[:-4]: m for m in zf.namelist() if m.endswith(".npy")}
            missing = [n for n in REQUIRED if n not in members]
            if missing:
                found = ", ".join(sorted(members)) or "none"
                raise UserError(f"{where} has no array '{missing[0]}' (arrays found: {found}); {HINT}")
            if ("val_images" in members) != ("val_labels" in members):
                raise UserError(f"{where}: val_images and val_labels come together (one is missing)")
            wanted = [n for n in (*REQUIRED, *OPTIONAL) if n in members]
            for n in wanted:
                _check_declared(n, *_header(zf, members[n], where), where)
    except zipfile.BadZipFile as e:
        raise UserError(f"{where} is not a readable .npz ({_one_line(e)}); {HINT}") from None
    try:
        with np.load(file, allow_pickle=False) as npz:
            arrays = {n: np.asarray(npz[n]) for n in wanted}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise UserError(f"{where}: unreadable array ({_one_line(e)}); {HINT}") from None
    for split in ("train", "test", "val"):
        if f"{split}_images" not in arrays:
            continue
        n_images, n_labels = len(arrays[f"{split}_images"]), len(arrays[f"{split}_labels"])
        if n_images != n_labels:
            raise UserError(f"{where}: {split}_images has {n_images} images but {split}_labels "
                            f"has {n_labels} labels; they must match")
        if n_images == 0:
            raise UserError(f"{where}: {split}_images is empty")
    return arrays


def _nchw(images: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(images))
    return x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2).contiguous()


@register_dataset(
    "npz",
    description="Your own arrays: path: FILE.npz with train_images, train_labels, test_images, test_labels (uint8).",
    takes_path=True,
)
def load(*, data_dir: Path | None = None, download: bool = False, val_fraction: float = 0.1,
         split_seed: int = 0, subset: int | None = None, labels: str | None = None,
         path: str | None = None, image_size: int | None = None,
         split: dict | None = None) -> DataSplits:
    """The splits of the .npz at ``path`` (``data_dir`` and ``download`` unused)."""
    reject_labels(NAME, labels)
    check_arguments(NAME, val_fraction=val_fraction, subset=subset)
    if path is None:
        raise UserError(f"dataset '{NAME}' needs path: FILE.npz in the suite's dataset")
    file = resolve_data_path(path)
    where = f"dataset '{NAME}': {file}"
    arrays = read_arrays(file)
    splits = [s for s in ("train", "val", "test") if f"{s}_images" in arrays]
    images = {s: _nchw(arrays[f"{s}_images"]) for s in splits}
    if image_size is None:
        shapes = {s: tuple(images[s].shape[1:]) for s in splits}
        other = next((s for s in splits if shapes[s] != shapes["train"]), None)
        if other is not None:
            raise UserError(f"{where}: {other}_images are C x H x W = {shapes[other]} but "
                            f"train_images are {shapes['train']}; give image_size to resize "
                            "them alike, or save them alike")
        size = tuple(images["train"].shape[-2:])
    else:
        size = (image_size, image_size)
    channels = max(int(images[s].shape[1]) for s in splits)
    for s in splits:  # whole splits at once: one array holds images of one size
        x = images[s].expand(-1, channels, -1, -1) if images[s].shape[1] != channels else images[s]
        images[s] = _images.resize_batch(x.contiguous(), size)

    values = np.unique(arrays["train_labels"])
    _images.need_two_classes(NAME, f"{file} (train_labels)", list(values))
    if is_class_disjoint(split):  # every split's labels are classes; sides are chosen by class
        values = np.unique(np.concatenate([arrays[f"{s}_labels"].astype(np.int64) for s in splits]))
    labels_of = {}
    for s in splits:
        y = arrays[f"{s}_labels"].astype(np.int64)
        unknown = np.setdiff1d(np.unique(y), values)
        if unknown.size:
            raise UserError(f"{where}: {s}_labels holds label {int(unknown[0])}, which train_labels "
                            "lacks; every class needs training images")
        labels_of[s] = torch.from_numpy(np.searchsorted(values, y))
    return build_splits(
        name=NAME,
        train_images=images["train"],
        train_labels=labels_of["train"],
        test_images=images["test"],
        test_labels=labels_of["test"],
        num_classes=len(values),
        val_fraction=val_fraction,
        split_seed=split_seed,
        subset=subset,
        augment="none",
        classes=[str(int(v)) for v in values],
        val=(images["val"], labels_of["val"]) if "val" in images else None,
        split=split,
        info={
            "source": "modbench.datasets.npz (numpy, allow_pickle=False)",
            "path": str(file),
            "image_size": list(size),
            "channels": channels,
            "val_from": "val_images" if "val" in images else "train_images (val_fraction)",
            "sha256": _images.digest(images["train"], images["test"]),
        },
    )
