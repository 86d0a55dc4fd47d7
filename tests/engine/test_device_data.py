"""Training batches from the device-resident split against a direct computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modbench.engine.augment import crop_windows, draw_augment
from modbench.engine.device_data import DeviceData

from .conftest import tiny_splits
from .test_augment import naive_crop_flip


def naive_normalize(images: np.ndarray, mean, std) -> np.ndarray:
    x = images.astype(np.float64) / 255.0
    return (x - np.asarray(mean)[None, :, None, None]) / np.asarray(std)[None, :, None, None]


def test_normalize_matches_the_definition():
    data = DeviceData(tiny_splits(), torch.device("cpu"))
    x = data.train_x[:5]
    got = data.normalize(x)
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), naive_normalize(x.numpy(), (0.5,) * 3, (0.25,) * 3), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("augment", ["crop", "crop-flip"])
def test_train_batch_is_crop_flip_then_normalize(augment):
    data = DeviceData(tiny_splits(augment), torch.device("cpu"))
    idx = torch.tensor([5, 1, 40, 5])
    d = draw_augment(augment, 1, 4, torch.Generator().manual_seed(2))
    got = data.train_batch(idx, *crop_windows(d.dy[0], d.dx[0], d.flip[0], (8, 8)))
    crops = naive_crop_flip(data.train_x.numpy(), idx.tolist(), d.dy[0].tolist(), d.dx[0].tolist(), d.flip[0].tolist())
    np.testing.assert_allclose(got.numpy(), naive_normalize(crops, (0.5,) * 3, (0.25,) * 3), rtol=1e-6, atol=1e-6)


def test_unaugmented_batch_is_the_images_normalized():
    data = DeviceData(tiny_splits(), torch.device("cpu"))
    idx = torch.tensor([3, 2, 1])
    torch.testing.assert_close(data.train_batch(idx), data.normalize(data.train_x[idx]))
