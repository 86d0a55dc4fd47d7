"""Seeded, class-stratified splitting and the ``subset`` rule, shared by every dataset loader.

All functions work on index tensors, so a loader decodes its files once and then slices.
Everything is driven by a ``torch.Generator`` seeded explicitly: the same labels and seed give the
same indices on every machine, another seed gives other indices.

Rules (also in docs/datasets.md):

* ``stratified_split(labels, fraction, seed)``: in each class, ``round(fraction * n_c)`` images
  go to the held-out part, clamped so that a class of two or more images keeps at least one image
  on each side when ``0 < fraction < 1``.
* ``subset_indices``: ``subset=N`` keeps at most N training images per class; the validation
  split keeps the same fraction of each class (``ceil``), with at least 1 validation image per
  class, never more than the split holds. Subsets are nested: ``subset=2`` is inside
  ``subset=4`` for the same seed. ``subset`` never touches the test split: every reported number
  is measured on the whole test split.
* ``disjoint_subset_indices`` (class-disjoint protocol): at most N images of every training
  class and of every validation class (validation classes have no training images).
* ``test_subset_indices``: ``test_subset=N`` (a smoke run that must shrink the test set, and says
  so: it is a deviation in every output) keeps at most N test images per class, seeded, from a
  stream of its own; the kept images stay in the test split's order.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from modbench.datasets.base import DataSplits
from modbench.errors import UserError


def _generator(seed: int, stream: int) -> torch.Generator:
    # Separate, fixed streams for the validation split and the subset draw, so that changing one
    # never shifts the other.
    g = torch.Generator()
    g.manual_seed(int(seed) * 1_000_003 + stream)
    return g


def _classes(labels: torch.Tensor) -> list[int]:
    return sorted(int(c) for c in torch.unique(labels))


def stratified_split(
    labels: torch.Tensor, fraction: float, seed: int, *, stream: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """(kept, held_out) index tensors, sorted; ``fraction`` of each class is held out."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"split fraction must be in [0, 1), got {fraction}")
    labels = torch.as_tensor(labels)
    g = _generator(seed, stream)
    kept, held = [], []
    for c in _classes(labels):
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        n = len(idx)
        k = round(fraction * n)
        if fraction > 0 and n >= 2:
            k = min(max(k, 1), n - 1)
        held.append(idx[:k])
        kept.append(idx[k:])
    return torch.sort(torch.cat(kept)).values, torch.sort(torch.cat(held)).values


def _take_per_class(
    labels: torch.Tensor, counts: dict[int, int], g: torch.Generator
) -> torch.Tensor:
    out = []
    for c in _classes(labels):
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        out.append(idx[: counts[c]])
    if not out:
        return torch.zeros(0, dtype=torch.long)
    return torch.sort(torch.cat(out)).values


def subset_indices(
    train_labels: torch.Tensor,
    val_labels: torch.Tensor,
    subset: int,
    seed: int,
    train_seed: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices into the training and validation splits that ``subset=N`` keeps (see the module
    docstring); the test split is never subset here.

    ``train_seed`` (``dataset.subset_seed: per-seed``: the run's training seed) draws the
    training images from a stream of their own, seeded by it; the validation images are the ones
    of the fixed draw whatever the training seed (so that every seed is measured on the same
    images)."""
    if subset < 1:
        raise ValueError(f"subset must be >= 1, got {subset}")
    train_labels = torch.as_tensor(train_labels)
    val_labels = torch.as_tensor(val_labels)

    def count(labels: torch.Tensor, c: int) -> int:
        return int((labels == c).sum())

    # ratio per class = images kept / images in the training split, applied to val.
    ratio = {}
    train_keep = {}
    for c in _classes(train_labels):
        n = count(train_labels, c)
        train_keep[c] = min(subset, n)
        ratio[c] = train_keep[c] / n
    val_keep = {}
    for c in _classes(val_labels):
        n = count(val_labels, c)
        val_keep[c] = min(n, max(1, math.ceil(ratio.get(c, 1.0) * n)))

    g = _generator(seed, stream=2)
    train = _take_per_class(train_labels, train_keep, g)  # drawn either way: validation stays as it is
    if train_seed is not None:
        train = _take_per_class(train_labels, train_keep, _generator(train_seed, stream=4))
    return train, _take_per_class(val_labels, val_keep, g)


def disjoint_subset_indices(
    train_labels: torch.Tensor,
    val_labels: torch.Tensor,
    subset: int,
    seed: int,
    train_seed: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``subset=N`` under the class-disjoint protocol, where validation labels number classes of
    their own (no training images to be in proportion to): at most N images of every training
    class (drawn as ``subset_indices`` draws them) and of every validation class (stream 8)."""
    train, _ = subset_indices(train_labels, torch.zeros(0, dtype=torch.long), subset, seed, train_seed)
    val_labels = torch.as_tensor(val_labels)
    keep = {c: min(subset, int((val_labels == c).sum())) for c in _classes(val_labels)}
    return train, _take_per_class(val_labels, keep, _generator(seed, stream=8))


def test_subset_indices(test_labels: torch.Tensor, test_subset: int, seed: int) -> torch.Tensor:
    """Sorted indices into the test split that ``test_subset=N`` keeps: at most N images of each
    class, drawn with ``seed`` from a stream of their own (so the training subset never moves)."""
    if test_subset < 1:
        raise ValueError(f"test_subset must be >= 1, got {test_subset}")
    test_labels = torch.as_tensor(test_labels)
    keep = {c: min(test_subset, int((test_labels == c).sum())) for c in _classes(test_labels)}
    return _take_per_class(test_labels, keep, _generator(seed, stream=5))


def trim_test(splits: DataSplits, test_subset: int | None, seed: int) -> DataSplits:
    """``splits`` with its test split cut to ``test_subset`` images per class (None: unchanged).
    The record (``info``) keeps the whole test split's size beside the new sizes."""
    if test_subset is None:
        return splits
    idx = test_subset_indices(splits.test_labels, test_subset, seed)
    info = dict(splits.info)
    sizes = dict(info.get("sizes") or {})
    info.update(test_subset=test_subset, test_total=len(splits.test_labels))
    sizes["test"] = len(idx)
    info["sizes"] = sizes
    mask = None if splits.test_query_mask is None else splits.test_query_mask[idx]
    return dataclasses.replace(
        splits, test_images=splits.test_images[idx].contiguous(), test_labels=splits.test_labels[idx], info=info,
        test_query_mask=mask,
    )


def apply_subset(splits: DataSplits, subset: int, split_seed: int, train_seed: int | None) -> DataSplits:
    """``splits`` (loaded without a subset) with the subset rule applied, the training images
    drawn with ``train_seed`` (see ``subset_indices``); normalisation statistics unchanged (they
    come from the whole training split, as ``build_splits`` computes them)."""
    import dataclasses

    rule = disjoint_subset_indices if splits.protocol == "class-disjoint" else subset_indices
    i_tr, i_va = rule(splits.train_labels, splits.val_labels, subset, split_seed, train_seed)
    out = dataclasses.replace(
        splits,
        train_images=splits.train_images[i_tr].contiguous(), train_labels=splits.train_labels[i_tr],
        val_images=splits.val_images[i_va].contiguous(), val_labels=splits.val_labels[i_va],
    )
    out.info = {**splits.info, "subset": subset, "subset_seed": train_seed, "sizes": out.sizes()}
    return out


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images [N, C, H, W], in units of [0, 1] intensities.

    Accumulated in chunks (exact integer sums), so 50,000 CIFAR images never become one float64
    tensor.
    """
    channels = images.shape[1]
    total = torch.zeros(channels, dtype=torch.float64)
    total_sq = torch.zeros(channels, dtype=torch.float64)
    for chunk in torch.split(images, 4096):
        x = chunk.to(torch.int64)
        total += x.sum(dim=(0, 2, 3)).to(torch.float64)
        total_sq += (x * x).sum(dim=(0, 2, 3)).to(torch.float64)
    n = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / n
    var = (total_sq / n - mean * mean).clamp_min(0.0) * n / max(n - 1, 1)
    std = var.sqrt()
    std = torch.where(std > 0, std, torch.ones_like(std))  # a constant channel: divide by 1
    return tuple(float(v) / 255.0 for v in mean), tuple(float(v) / 255.0 for v in std)


def check_arguments(name: str, *, val_fraction: float, subset: int | None) -> None:
    """UserError for split arguments no loader can honour."""
    if not 0.0 <= val_fraction < 1.0:
        raise UserError(f"{name}: val_fraction must be in [0, 1), got {val_fraction}")
    if subset is not None and subset < 1:
        raise UserError(f"{name}: subset must be a positive number of images per class, got {subset}")


def reject_labels(name: str, labels: str | None) -> None:
    """Only cifar100 has a choice of label sets; any other dataset given one is a user error."""
    if labels is not None:
        raise UserError(
            f"dataset '{name}' has no label sets; remove 'labels: {labels}' from the suite's "
            "dataset (only cifar100 takes labels: fine | coarse)"
        )


def build_splits(
    *,
    name: str,
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    num_classes: int,
    val_fraction: float,
    split_seed: int,
    subset: int | None,
    augment: str,
    classes: list[str] | None = None,
    info: dict | None = None,
    val: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> DataSplits:
    """Official train -> (train, validation), the official test -> test; then ``subset``.
    ``val=(images, labels)``: the dataset's own validation split (a user's ``val/`` folder),
    used as it is instead of ``val_fraction`` of the training split.

    ``subset`` trims the training and validation splits; the test split stays whole (a smoke
    run's ``test_subset`` is applied by ``trim_test``, after the loader).

    ``mean``/``std`` come from the training split after the validation split and before
    ``subset``, so that a subset run normalises like the full run and nothing is measured on the
    validation or test images.

    The closed-set protocol; ``protocol.build_splits`` chooses between it and class-disjoint.
    """
    check_arguments(name, val_fraction=val_fraction, subset=subset)
    train_labels = torch.as_tensor(train_labels, dtype=torch.int64)
    test_labels = torch.as_tensor(test_labels, dtype=torch.int64)
    if val is None:
        keep, held = stratified_split(train_labels, val_fraction, split_seed)
        tr_x, tr_y = train_images[keep], train_labels[keep]
        va_x, va_y = train_images[held], train_labels[held]
    else:
        tr_x, tr_y = train_images, train_labels
        va_x, va_y = val[0], torch.as_tensor(val[1], dtype=torch.int64)
    te_x, te_y = test_images, test_labels
    mean, std = channel_stats(tr_x)
    if subset is not None:
        i_tr, i_va = subset_indices(tr_y, va_y, subset, split_seed)
        tr_x, tr_y = tr_x[i_tr], tr_y[i_tr]
        va_x, va_y = va_x[i_va], va_y[i_va]
    record = dict(info or {})
    record.update(
        val_fraction=val_fraction if val is None else None,
        split_seed=split_seed,
        subset=subset,
        split_rule="class-stratified, seeded (modbench.datasets.splits)",
        sizes={"train": len(tr_y), "val": len(va_y), "test": len(te_y)},
        test_total=len(te_y),  # the whole test split; trim_test keeps it beside a smaller "test"
    )
    return DataSplits(
        name=name,
        num_classes=num_classes,
        train_images=tr_x.contiguous(),
        train_labels=tr_y,
        val_images=va_x.contiguous(),
        val_labels=va_y,
        test_images=te_x.contiguous(),
        test_labels=te_y,
        mean=mean,
        std=std,
        augment=augment,
        classes=classes,
        info=record,
    )
