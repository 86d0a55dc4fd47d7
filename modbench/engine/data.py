"""A dataset held on the training device as uint8 tensors, normalised in batches there."""

from __future__ import annotations

import torch

from modbench.datasets.base import DataSplits


class DeviceData:
    def __init__(self, splits: DataSplits, device: torch.device):
        self.splits = splits
        self.device = device
        self.train_x = splits.train_images.to(device)
        self.train_y = splits.train_labels.to(device)
        self.val_x = splits.val_images.to(device)
        self.val_y = splits.val_labels.to(device)
        self.test_x = splits.test_images.to(device)
        self.test_y = splits.test_labels.to(device)
        c = splits.channels
        self._mean = torch.tensor(splits.mean, dtype=torch.float32, device=device).view(1, c, 1, 1)
        self._std = torch.tensor(splits.std, dtype=torch.float32, device=device).view(1, c, 1, 1)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [B, C, H, W] -> float32, scaled to [0, 1] then standardised per channel."""
        return (images.float().div_(255.0) - self._mean) / self._std


def load_splits(dataset_cfg: dict, *, data_dir, download: bool) -> DataSplits:
    from modbench.datasets import DATASETS

    loader = DATASETS.get(dataset_cfg["name"])
    return loader(
        data_dir=data_dir,
        download=download,
        val_fraction=dataset_cfg["val_fraction"],
        split_seed=dataset_cfg["split_seed"],
        subset=dataset_cfg.get("subset"),
        labels=dataset_cfg.get("labels"),
    )
