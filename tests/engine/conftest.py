"""Tiny in-memory datasets for the engine tests."""

from __future__ import annotations

import torch

from modbench.datasets.base import DataSplits


def tiny_splits(augment: str = "none", n: int = 48, channels: int = 3, size: int = 8, classes: int = 4,
                seed: int = 0) -> DataSplits:
    g = torch.Generator().manual_seed(seed)

    def split(k):
        return (torch.randint(0, 256, (k, channels, size, size), dtype=torch.uint8, generator=g),
                torch.arange(classes).repeat(k // classes))

    (tx, ty), (vx, vy), (sx, sy) = split(n), split(2 * classes), split(2 * classes)
    return DataSplits(
        name="tiny", num_classes=classes, train_images=tx, train_labels=ty, val_images=vx,
        val_labels=vy, test_images=sx, test_labels=sy, mean=(0.5,) * channels,
        std=(0.25,) * channels, augment=augment,
    )
