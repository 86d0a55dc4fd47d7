"""A dataset held on the training device as uint8 tensors, augmented and normalised in batches.

Each split is one uint8 tensor [N, C, H, W] on the device (CIFAR-10's 50,000 training images are
150 MB), copied there once per process. A training batch is gathered from it by index, cropped
and flipped in the same gather (``augment.crop_flip``), and converted to float32 and normalised
on the device: nothing per image happens in Python.
"""

from __future__ import annotations

import torch

from modbench.canonical import canonical_json
from modbench.datasets.base import DataSplits
from modbench.engine.augment import PAD, check_augment, crop_flip, pad_nhwc


class DeviceData:
    def __init__(self, splits: DataSplits, device: torch.device):
        check_augment(splits.augment)
        self.splits = splits
        self.device = device
        self.augment = splits.augment
        self.train_x = splits.train_images.to(device)
        self.train_y = splits.train_labels.to(device)
        self.val_x = splits.val_images.to(device)
        self.val_y = splits.val_labels.to(device)
        self.test_x = splits.test_images.to(device)
        self.test_y = splits.test_labels.to(device)
        # Query/gallery test splits (In-Shop): True = query; None: every sample is a query.
        self.test_query_mask = splits.test_query_mask
        self.train_y_cpu = splits.train_labels.cpu()  # what the samplers draw from
        c = splits.channels
        # normalize(x) = (x / 255 - mean) / std = x * scale + shift, per channel.
        mean = torch.tensor(splits.mean, dtype=torch.float64).view(1, c, 1, 1)
        std = torch.tensor(splits.std, dtype=torch.float64).view(1, c, 1, 1)
        self._scale = (1.0 / (255.0 * std)).to(torch.float32).to(device)
        self._shift = (-mean / std).to(torch.float32).to(device)
        self._padded: torch.Tensor | None = None

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.train_x.shape[-2]), int(self.train_x.shape[-1])

    def padded_train(self) -> torch.Tensor:
        """The training split zero-padded by ``PAD`` in NHWC layout, for crops (built once)."""
        if self._padded is None:
            self._padded = pad_nhwc(self.train_x, PAD)
        return self._padded

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [B, C, H, W] -> float32, scaled to [0, 1] then standardised per channel, in one
        kernel (uint8 x float32 promotes to float32 exactly); the memory layout is kept."""
        return torch.addcmul(self._shift, images, self._scale)

    def train_batch(
        self, idx: torch.Tensor, rows: torch.Tensor | None = None, cols: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Normalised float32 training images ``idx`` [B] (on the device); when the dataset
        augments, each cut to the crop window ``rows`` [B, H], ``cols`` [B, W] of the padded
        image (``augment.crop_windows``), which also encodes the flip."""
        if rows is None:
            return self.normalize(self.train_x[idx])
        return self.normalize(crop_flip(self.padded_train(), idx, rows, cols))


def load_splits(
    dataset_cfg: dict, *, data_dir, download: bool, seed: int | None = None, cache_root=None
) -> DataSplits:
    """The run's splits; with ``cache_root``, read from the decoded-splits cache there when an
    intact entry is, else decoded and stored (``cache/data.py``)."""
    # The dataset registry knows which loader takes which keys (path, image_size...).
    from modbench import datasets

    def load() -> DataSplits:
        return datasets.load_splits(dataset_cfg, data_dir=data_dir, download=download, seed=seed)

    if cache_root is None:
        return load()
    from modbench.cache.data import cached_splits

    return cached_splits(dataset_cfg, load, root=cache_root, data_dir=data_dir, seed=seed)[0]


def data_key(config: dict) -> str:
    """Which runs share one loaded dataset: the same ``dataset`` configuration, and under
    ``subset_seed: per-seed`` (a training subset per seed) the same seed too."""
    dataset = config["dataset"]
    key = canonical_json(dataset)
    return f"{key}:seed={config['seed']}" if dataset.get("subset_seed") == "per-seed" else key
