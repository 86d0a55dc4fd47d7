"""The class-disjoint protocol (``dataset.split: class-disjoint``): train on some classes,
retrieve among others that training never saw, as most metric-learning benchmarks do.

Rules (also in docs/datasets.md, "Protocols: closed-set and class-disjoint"):

* Which classes go where. ``train_classes`` and/or ``test_classes`` list them (a class name, or
  an integer: the label where the names are numbers, as for ``digits`` and ``npz``, else the
  index into the dataset's class list); one list alone gives the other side every remaining
  class. With no list: a ``folder``/``npz`` whose training and test classes are already disjoint
  keeps its own division; otherwise the classes are drawn, seeded by ``split.seed`` (default 0)
  on a stream of their own (``_generator(seed, stream=6)``: a random permutation of the sorted
  ids of the K classes that have training or test images), ``round(train_fraction * K)`` of them
  (default one half) for training.
* Which images. The training side takes the official training split's images of its classes,
  the test side the official test split's images of its classes; the other images are unused.
* Validation is class-disjoint from training too (Musgrave et al., "A Metric Learning Reality
  Check"): ``max(2, round(val_fraction * K))`` of the K training-side classes, drawn with
  ``split_seed`` on stream 7, become validation classes (all their training images), leaving at
  least two classes to train on. A user's own validation split (``val/``, ``val_images``) is
  used instead when its classes are disjoint from both the training and the test classes.
* Labels. Each side is renumbered 0..K-1 in the order of the original class ids; ``num_classes``
  is the number of classes trained on (a softmax-family classifier covers these only). Val and
  test labels are only ever compared among themselves. ``info`` keeps the original ids and
  names of every side.
* ``subset=N``: at most N images of every training class and of every validation class
  (``splits.disjoint_subset_indices``); the test split stays whole (``test_subset`` aside).
"""

from __future__ import annotations

import torch

from modbench.datasets.base import DataSplits
from modbench.datasets.splits import _generator, channel_stats, disjoint_subset_indices
from modbench.errors import UserError

PROTOCOL = "class-disjoint"
CLASS_STREAM = 6  # which classes are training classes (split.seed)
VAL_CLASS_STREAM = 7  # which training-side classes are validation classes (split_seed)
DEFAULT_TRAIN_FRACTION = 0.5
MIN_TRAIN_CLASSES = 2
MIN_VAL_CLASSES = 2
MIN_TEST_CLASSES = 2


def is_class_disjoint(split: dict | str | None) -> bool:
    if isinstance(split, str):
        return split == PROTOCOL
    return isinstance(split, dict) and split.get("mode") == PROTOCOL


def _numeric(names: list[str]) -> bool:
    return all(n.lstrip("-").isdigit() for n in names)


def class_id(name: str, entry, names: list[str], key: str) -> int:
    """The index into ``names`` of one entry of ``split.train_classes``/``test_classes``."""
    text = str(entry)
    if text in names:
        return names.index(text)
    if isinstance(entry, int) and not isinstance(entry, bool) and not _numeric(names) and 0 <= entry < len(names):
        return entry
    shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
    what = "class names" if _numeric(names) or not names else f"class names or indices 0..{len(names) - 1}"
    raise UserError(f"dataset '{name}': split.{key} lists {entry!r}, which is not a class of this "
                    f"dataset ({what}: {shown})")


def assign_classes(name: str, spec: dict, names: list[str], train_present: set[int],
                   test_present: set[int]) -> tuple[list[int], list[int], str]:
    """(training-side class ids, test class ids, how they were chosen) for ``spec`` (the
    suite's ``dataset.split``), given the class names and which ids have training / test images."""
    listed_train = spec.get("train_classes")
    listed_test = spec.get("test_classes")
    every = list(range(len(names)))
    if listed_train is not None or listed_test is not None:
        train = sorted({class_id(name, e, names, "train_classes") for e in listed_train or []})
        test = sorted({class_id(name, e, names, "test_classes") for e in listed_test or []})
        if listed_train is None:
            train = [c for c in every if c not in test and c in train_present]
        if listed_test is None:
            test = [c for c in every if c not in train and c in test_present]
        both = sorted(set(train) & set(test))
        if both:
            raise UserError(f"dataset '{name}': split lists class '{names[both[0]]}' both in train_classes "
                            "and test_classes; the protocol is class-disjoint")
        how = "listed"
    elif train_present.isdisjoint(test_present):
        train, test = sorted(train_present), sorted(test_present)
        how = "the data's own division (its training and test classes are disjoint)"
    else:
        seed = int(spec.get("seed") or 0)
        fraction = float(spec.get("train_fraction") or DEFAULT_TRAIN_FRACTION)
        pool = sorted(train_present | test_present)  # a class of a val/ folder only is no candidate
        order = [pool[i] for i in torch.randperm(len(pool), generator=_generator(seed, CLASS_STREAM)).tolist()]
        k = min(max(round(fraction * len(pool)), 1), len(pool) - 1)
        train, test = sorted(order[:k]), sorted(order[k:])
        how = f"drawn: {k} of {len(pool)} classes for training (split.seed {seed}, train_fraction {fraction:g})"
    for side, ids, present, where in (("train_classes", train, train_present, "training"),
                                      ("test_classes", test, test_present, "test")):
        lacking = [c for c in ids if c not in present]
        if lacking:
            raise UserError(f"dataset '{name}': class '{names[lacking[0]]}' of the {where} side has no "
                            f"{where} images; list split.{side} with classes that have some")
    if len(test) < MIN_TEST_CLASSES:
        raise UserError(f"dataset '{name}': split leaves {len(test)} test class(es); class-disjoint "
                        f"retrieval needs at least {MIN_TEST_CLASSES} (list split.test_classes)")
    return train, test, how


def val_class_ids(train_side: list[int], val_fraction: float, split_seed: int) -> list[int]:
    """The validation classes drawn from the training side (module docstring)."""
    n = max(MIN_VAL_CLASSES, round(val_fraction * len(train_side)))
    order = torch.randperm(len(train_side), generator=_generator(split_seed, VAL_CLASS_STREAM)).tolist()
    return sorted(train_side[i] for i in order[:n])


def _select(images: torch.Tensor, labels: torch.Tensor, ids: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The images of classes ``ids``, labels renumbered 0..len(ids)-1 in the order of ``ids``."""
    size = max([int(labels.max()) if len(labels) else 0, *ids]) + 1
    lookup = torch.full((size,), -1, dtype=torch.int64)
    lookup[torch.tensor(ids, dtype=torch.int64)] = torch.arange(len(ids))
    new = lookup[labels]
    keep = torch.nonzero(new >= 0).flatten()
    return images[keep], new[keep]


def build(*, name: str, spec: dict, train_images: torch.Tensor, train_labels: torch.Tensor,
          test_images: torch.Tensor, test_labels: torch.Tensor, classes: list[str], val_fraction: float,
          split_seed: int, subset: int | None, augment: str, info: dict | None,
          val: tuple[torch.Tensor, torch.Tensor] | None) -> DataSplits:
    """The class-disjoint ``DataSplits`` (module docstring); labels are ids into ``classes``."""
    train_labels = torch.as_tensor(train_labels, dtype=torch.int64)
    test_labels = torch.as_tensor(test_labels, dtype=torch.int64)
    present = {s: {int(c) for c in torch.unique(y)} for s, y in (("train", train_labels), ("test", test_labels))}
    side, test_ids, how = assign_classes(name, spec, classes, present["train"], present["test"])
    if val is not None:
        val_labels = torch.as_tensor(val[1], dtype=torch.int64)
        val_ids = sorted({int(c) for c in torch.unique(val_labels)})
        clash = sorted(set(val_ids) & (set(side) | set(test_ids)))
        if clash:
            raise UserError(f"dataset '{name}': validation class '{classes[clash[0]]}' is also a training "
                            "or test class; in class-disjoint mode the validation split's classes must be "
                            "neither (or remove the validation split: validation classes are then drawn "
                            "from the training classes)")
        train_ids = side
        va_x, va_y = _select(val[0], val_labels, val_ids)
        val_rule = "the dataset's own validation split (its classes disjoint from training and test)"
    else:
        if len(side) < MIN_TRAIN_CLASSES + MIN_VAL_CLASSES:
            raise UserError(f"dataset '{name}': split gives training {len(side)} class(es); class-disjoint "
                            f"mode needs at least {MIN_TRAIN_CLASSES + MIN_VAL_CLASSES} (at least "
                            f"{MIN_VAL_CLASSES} become validation classes, at least {MIN_TRAIN_CLASSES} train)")
        val_ids = val_class_ids(side, val_fraction, split_seed)
        if len(side) - len(val_ids) < MIN_TRAIN_CLASSES:
            val_ids = val_ids[: len(side) - MIN_TRAIN_CLASSES]
        train_ids = [c for c in side if c not in val_ids]
        va_x, va_y = _select(train_images, train_labels, val_ids)
        val_rule = (f"validation classes carved from the training side: max({MIN_VAL_CLASSES}, "
                    f"round(val_fraction x classes)), split seed {split_seed}")
    tr_x, tr_y = _select(train_images, train_labels, train_ids)
    te_x, te_y = _select(test_images, test_labels, test_ids)
    mean, std = channel_stats(tr_x)  # the training classes' images only
    if subset is not None:
        i_tr, i_va = disjoint_subset_indices(tr_y, va_y, subset, split_seed)
        tr_x, tr_y, va_x, va_y = tr_x[i_tr], tr_y[i_tr], va_x[i_va], va_y[i_va]
    record = dict(info or {})
    record.update(
        protocol=PROTOCOL,
        val_fraction=val_fraction if val is None else None,
        split_seed=split_seed,
        subset=subset,
        split_rule=f"class-disjoint: classes {how}; {val_rule} (modbench.datasets.class_disjoint)",
        classes_by_side={
            "train": {"ids": train_ids, "names": [classes[c] for c in train_ids]},
            "val": {"ids": val_ids, "names": [classes[c] for c in val_ids]},
            "test": {"ids": test_ids, "names": [classes[c] for c in test_ids]},
        },
        class_counts={"train": len(train_ids), "val": len(val_ids), "test": len(test_ids)},
        sizes={"train": len(tr_y), "val": len(va_y), "test": len(te_y)},
        test_total=len(te_y),
    )
    return DataSplits(
        name=name, num_classes=len(train_ids),
        train_images=tr_x.contiguous(), train_labels=tr_y,
        val_images=va_x.contiguous(), val_labels=va_y,
        test_images=te_x.contiguous(), test_labels=te_y,
        mean=mean, std=std, augment=augment,
        classes=[classes[c] for c in train_ids], info=record, protocol=PROTOCOL,
    )
