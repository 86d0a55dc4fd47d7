"""What the four retrieval datasets (``cub200``, ``cars196``, ``sop``, ``inshop``) share: reading
the publisher's text files, decoding and resizing the images, the class-disjoint splits.

The protocol of deep metric learning (Song et al. 2016; pytorch-metric-learning, Open Metric
Learning, Roth et al.): the training and test splits hold *different classes*; a loss is judged
by retrieval among classes it never saw. Each loader lists its images with their original class
ids in the publisher's order and hands them here:

* Labels: each split's classes are numbered 0..K-1 in the order of their original ids (label k
  of a split is the k-th smallest original class id of that split); ``num_classes`` is the number
  of training classes (the classifier head of a softmax-family loss sees only these). ``info``
  records which original ids each split holds (as ranges) and where the split comes from.
* Validation (``carve_validation``): carved from the training classes, class-disjoint from the
  classes trained on, as the Reality Check (Musgrave et al. 2020) does: ``round(val_fraction *
  K_train)`` training classes (at least 1, and at most K_train - 2 so that two remain) are drawn
  with ``split_seed`` (a fixed ``torch.Generator`` stream of its own) and all their images become
  the validation split. ``subset`` then keeps at most N images of every training class and of
  every validation class (``splits.disjoint_subset_indices``, the rule of every class-disjoint
  split: validation labels number classes of their own).
* Images (``read_images``): decoded with Pillow (JPEG draft mode: decoded at a reduced scale
  not below the size asked, which is what makes the 120,053 images of SOP readable in minutes),
  converted to RGB, resized so that the shorter side is ``image_size`` and centre-cropped to
  ``image_size`` x ``image_size`` (bilinear; the evaluation transform of the field, at a size a
  CPU can train on), into one preallocated uint8 tensor [N, 3, S, S] per split: N x 3 x S^2
  bytes (S = 64: 12 KiB an image). Augmentation: ``crop-flip`` (pad 4, random crop back to
  S x S, horizontal flip: none of these datasets' classes depends on left and right).

Every problem with the files is a one-line UserError (exit 2) naming the file (and line).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from modbench.datasets.base import DataSplits
from modbench.datasets.splits import _generator, channel_stats, check_arguments, disjoint_subset_indices
from modbench.errors import UserError

DEFAULT_IMAGE_SIZE = 64
VAL_STREAM = 6  # torch.Generator stream of the validation classes (splits.py uses 1, 2, 4, 5)


@dataclass(frozen=True)
class Item:
    """One image of a dataset: its file and its original class id (and class name)."""

    path: Path
    class_id: int
    class_name: str


def require_file(name: str, path: Path, hint: str) -> Path:
    if not path.is_file():
        raise UserError(f"dataset '{name}': {path} not found; {hint}")
    return path


def read_rows(name: str, path: Path, columns: int, *, skip: int = 0) -> list[tuple[int, list[str]]]:
    """(line number, fields) of each non-empty line of a whitespace-separated text file after
    ``skip`` header lines; a line with fewer than ``columns`` fields is a UserError naming it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"dataset '{name}': cannot read {path} ({type(e).__name__}: {e})") from None
    rows = []
    for number, line in enumerate(lines[skip:], start=skip + 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < columns:
            raise UserError(f"dataset '{name}': {path} line {number} has {len(fields)} field(s), "
                            f"expected {columns}: {line.strip()[:80]!r}")
        rows.append((number, fields))
    return rows


def to_int(name: str, path: Path, number: int, text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UserError(f"dataset '{name}': {path} line {number}: {what} {text[:40]!r} is not an "
                        "integer") from None


def read_image(name: str, path: Path, size: int) -> torch.Tensor:
    """uint8 [3, size, size]: the image's shorter side resized to ``size``, centre-cropped."""
    import numpy as np
    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.draft("RGB", (size, size))  # JPEG: decode at a reduced scale >= size
                im = ImageOps.fit(im.convert("RGB"), (size, size), method=Image.Resampling.BILINEAR)
    except FileNotFoundError:
        raise UserError(f"dataset '{name}': image {path} not found (listed in the dataset's files)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError) as e:
        raise UserError(f"dataset '{name}': cannot read image {path} ({type(e).__name__}: "
                        f"{' '.join(str(e).split())})") from None
    return torch.from_numpy(np.asarray(im, dtype=np.uint8).transpose(2, 0, 1).copy())


def read_images(name: str, paths: Sequence[Path], size: int) -> torch.Tensor:
    """uint8 [N, 3, size, size] of ``paths``, written into one preallocated tensor."""
    out = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)
    for i, p in enumerate(paths):
        out[i] = read_image(name, p, size)
    return out


def ranges(ids: Iterable[int]) -> list[list[int]]:
    """Sorted ids as [first, last] runs of consecutive ids: [1, 2, 3, 7] -> [[1, 3], [7, 7]]."""
    out: list[list[int]] = []
    for i in sorted(set(ids)):
        if out and i == out[-1][1] + 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


def carve_validation(train_classes: Sequence[int], val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(classes trained on, validation classes), both sorted: see the module docstring."""
    classes = sorted(train_classes)
    k = len(classes)
    n_val = round(val_fraction * k)
    if val_fraction > 0:
        n_val = max(n_val, 1)
    n_val = min(n_val, max(k - 2, 0))
    order = torch.randperm(k, generator=_generator(seed, VAL_STREAM)).tolist()
    held = sorted(classes[i] for i in order[:n_val])
    return sorted(set(classes) - set(held)), held


def _labels(items: Sequence[Item], classes: Sequence[int]) -> torch.Tensor:
    index = {c: i for i, c in enumerate(sorted(classes))}
    return torch.tensor([index[it.class_id] for it in items], dtype=torch.int64)


def need_classes(name: str, where: str, classes: Sequence[int], at_least: int, source: Path) -> None:
    if len(set(classes)) < at_least:
        raise UserError(f"dataset '{name}': {source} gives the {where} split {len(set(classes))} "
                        f"class(es); it needs at least {at_least}")


def build(
    *,
    name: str,
    train: Sequence[Item],
    test: Sequence[Item],
    image_size: int,
    val_fraction: float,
    split_seed: int,
    subset: int | None,
    source: Path,
    info: dict,
    test_query_mask: Sequence[bool] | None = None,
    record_names: bool = False,
) -> DataSplits:
    """The class-disjoint ``DataSplits`` of the publisher's train and test lists.
    ``record_names``: ``info["class_names"]`` lists each split's class names in label order
    (datasets whose classes have names: CUB, Cars196; SOP's and In-Shop's are their ids)."""
    check_arguments(name, val_fraction=val_fraction, subset=subset)
    # 3: one validation class and two to train on (carve_validation)
    need_classes(name, "training", [it.class_id for it in train], 3, source)
    need_classes(name, "test", [it.class_id for it in test], 2, source)
    overlap = sorted({it.class_id for it in train} & {it.class_id for it in test})
    if overlap:
        raise UserError(f"dataset '{name}': {source} puts class {overlap[0]} in both the training "
                        "and the test split; the protocol needs them class-disjoint")
    kept, held = carve_validation(sorted({it.class_id for it in train}), val_fraction, split_seed)
    held_set = set(held)
    tr = [it for it in train if it.class_id not in held_set]
    va = [it for it in train if it.class_id in held_set]
    test_classes = sorted({it.class_id for it in test})
    tr_y, va_y, te_y = _labels(tr, kept), _labels(va, held), _labels(test, test_classes)
    tr_x = read_images(name, [it.path for it in tr], image_size)
    mean, std = channel_stats(tr_x)  # the classes trained on, before subset (as build_splits)
    if subset is not None:
        i_tr, i_va = disjoint_subset_indices(tr_y, va_y, subset, split_seed)
        tr_x, tr_y = tr_x[i_tr].contiguous(), tr_y[i_tr]
        va = [va[i] for i in i_va.tolist()]
        va_y = va_y[i_va]
    va_x = read_images(name, [it.path for it in va], image_size)
    te_x = read_images(name, [it.path for it in test], image_size)
    names = {it.class_id: it.class_name for it in (*train, *test)}
    mask = None if test_query_mask is None else torch.tensor(list(test_query_mask), dtype=torch.bool)
    record = dict(info)
    record.update(
        protocol="class-disjoint",
        image_size=[image_size, image_size],
        resize="shorter side to image_size, centre crop (Pillow, bilinear; JPEG draft decoding)",
        class_ids={"train": ranges(kept), "val": ranges(held), "test": ranges(test_classes)},
        label_rule="each split's classes numbered 0..K-1 in the order of their original ids",
        val_rule=("class-disjoint: round(val_fraction x training classes) of the publisher's training "
                  "classes (at least 1, leaving 2), drawn with split_seed (modbench.datasets._retrieval)"),
        val_fraction=val_fraction,
        split_seed=split_seed,
        subset=subset,
        sizes={"train": len(tr_y), "val": len(va_y), "test": len(te_y)},
        test_total=len(te_y),
    )
    if record_names:
        record["class_names"] = {"train": [names[c] for c in kept], "val": [names[c] for c in held],
                                 "test": [names[c] for c in test_classes]}
    if mask is not None:
        record["test_queries"] = int(mask.sum())
        record["test_gallery"] = int((~mask).sum())
    return DataSplits(
        name=name,
        num_classes=len(kept),
        train_images=tr_x,
        train_labels=tr_y,
        val_images=va_x,
        val_labels=va_y,
        test_images=te_x,
        test_labels=te_y,
        mean=mean,
        std=std,
        augment="crop-flip",
        classes=[names[c] for c in kept],
        info=record,
        protocol="class-disjoint",
        test_query_mask=mask,
    )
