"""What every dataset loader returns: the three splits as uint8 image tensors.

Images stay uint8 [N, C, H, W] so that a whole split fits on the training device as one tensor;
normalisation (``mean``/``std``, per channel, in units of [0, 1] intensities) and augmentation
(``augment``, by name) are applied in batches by the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class DataSplits:
    name: str
    num_classes: int
    train_images: torch.Tensor  # uint8 [N, C, H, W]
    train_labels: torch.Tensor  # int64 [N]
    val_images: torch.Tensor
    val_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: str = "none"  # "none" | "crop-flip" (pad 4, random crop, horizontal flip) | "crop"
    classes: list[str] | None = None  # the names of labels 0..num_classes-1 (training classes)
    info: dict = field(default_factory=dict)  # source, split sizes, ... (recorded with results)
    # "closed": the test classes are the training classes; "class-disjoint": train, validation
    # and test hold different classes, each split's labels numbered 0..K-1 of its own, and
    # ``num_classes`` is the number of training classes (what a classifier head sees);
    # ``info["classes_by_side"]`` keeps the original ids and names where the loader records them
    # (modbench/datasets/class_disjoint.py for dataset.split: class-disjoint).
    protocol: str = "closed"
    # Query/gallery test splits (In-Shop): True = query, False = gallery, bool [N_test]. Each
    # query is searched among the gallery only (modbench.metrics.compute, ``gallery``); None:
    # every test sample is searched among all the others.
    test_query_mask: torch.Tensor | None = None

    @property
    def channels(self) -> int:
        return int(self.train_images.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.train_images.shape[-1])

    def sizes(self) -> dict[str, int]:
        return {
            "train": len(self.train_labels),
            "val": len(self.val_labels),
            "test": len(self.test_labels),
        }
