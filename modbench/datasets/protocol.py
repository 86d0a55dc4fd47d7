"""Which protocol builds a loader's splits: ``dataset.split`` closed (``splits.build_splits``)
or class-disjoint (``class_disjoint.build``). Loaders call ``build_splits`` here with the official
training and test splits, their class names and the suite's ``split``."""

from __future__ import annotations

from modbench.datasets import class_disjoint, splits
from modbench.datasets.base import DataSplits


def build_splits(*, split: dict | str | None = None, **kwargs) -> DataSplits:
    """``splits.build_splits(**kwargs)``, or under ``split: class-disjoint`` the class-disjoint
    splits of the same images (labels are then ids into ``classes``)."""
    if not class_disjoint.is_class_disjoint(split):
        return splits.build_splits(**kwargs)
    splits.check_arguments(kwargs["name"], val_fraction=kwargs["val_fraction"], subset=kwargs["subset"])
    classes = kwargs.get("classes") or [str(c) for c in range(kwargs["num_classes"])]
    return class_disjoint.build(
        name=kwargs["name"], spec=split if isinstance(split, dict) else {"mode": split},
        train_images=kwargs["train_images"], train_labels=kwargs["train_labels"],
        test_images=kwargs["test_images"], test_labels=kwargs["test_labels"], classes=list(classes),
        val_fraction=kwargs["val_fraction"], split_seed=kwargs["split_seed"], subset=kwargs["subset"],
        augment=kwargs["augment"], info=kwargs.get("info"), val=kwargs.get("val"),
    )
