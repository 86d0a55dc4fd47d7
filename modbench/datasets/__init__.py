"""The dataset registry. Each entry is a loader::

    load(*, data_dir, download, val_fraction, split_seed, subset, labels) -> DataSplits

(see ``base.py``), plus ``path=`` and ``image_size=`` for the datasets that read a user's files
(``folder``, ``npz``), and ``image_size=`` for those declared ``takes_image_size`` (the retrieval
datasets). A dataset is one file of this folder whose loader carries
``@register_dataset("name", description=...)`` (``registration.py``); the names are read from the
files without importing them, so that listing them imports no torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modbench.datasets.registration import DECORATOR, KEYWORDS
from modbench.registry import Registry, discover

DATASETS = Registry("dataset")
TAKES_PATH: set[str] = set()  # datasets that read the suite's dataset.path / image_size
TAKES_IMAGE_SIZE: set[str] = set()  # datasets that read dataset.image_size only (no path)
for _name, _target, _description, _keywords in discover(
    Path(__file__).resolve().parent, __name__, DECORATOR, keywords=KEYWORDS
):
    DATASETS.add(_name, _target, _description)
    if _keywords.get("takes_path"):
        TAKES_PATH.add(_name)
    if _keywords.get("takes_image_size"):
        TAKES_IMAGE_SIZE.add(_name)


def load_splits(dataset_cfg: dict[str, Any], *, data_dir, download: bool, seed: int | None = None):
    """The ``DataSplits`` of a run's resolved ``dataset`` configuration (the suite's dict).

    ``seed``: the run's training seed, which draws the training subset under ``subset_seed:
    per-seed`` (the loader then loads without a subset and ``splits.apply_subset`` draws it).
    A ``test_subset`` (smoke runs only) cuts the test split after the loader."""
    from modbench.datasets.splits import apply_subset, trim_test

    loader = DATASETS.get(dataset_cfg["name"])
    extra = {}
    if dataset_cfg["name"] in TAKES_PATH:
        extra = {"path": dataset_cfg.get("path"), "image_size": dataset_cfg.get("image_size")}
    elif dataset_cfg["name"] in TAKES_IMAGE_SIZE:
        extra = {"image_size": dataset_cfg.get("image_size")}
    per_seed = dataset_cfg.get("subset_seed") == "per-seed" and dataset_cfg.get("subset") is not None
    import inspect

    from modbench.datasets.class_disjoint import is_class_disjoint
    from modbench.errors import UserError

    if is_class_disjoint(dataset_cfg.get("split")):
        if "split" not in inspect.signature(loader).parameters:
            raise UserError(f"dataset '{dataset_cfg['name']}' has a split of its own; dataset.split "
                            "does not apply to it (remove it from the suite)")
        extra["split"] = dataset_cfg["split"]  # only then: a loader of a closed-set dataset needs no such argument
    if per_seed and seed is None:
        raise ValueError("subset_seed: per-seed needs the run's seed")
    splits = loader(
        data_dir=data_dir,
        download=download,
        val_fraction=dataset_cfg["val_fraction"],
        split_seed=dataset_cfg["split_seed"],
        subset=None if per_seed else dataset_cfg.get("subset"),
        labels=dataset_cfg.get("labels"),
        **extra,
    )
    if per_seed:
        splits = apply_subset(splits, int(dataset_cfg["subset"]), int(dataset_cfg["split_seed"]), int(seed))
    return trim_test(splits, dataset_cfg.get("test_subset"), dataset_cfg["split_seed"])
