"""Batched crop and flip against a per-image loop written from the definition."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modbench.engine.augment import PAD, crop_flip, crop_windows, draw_augment, pad_nhwc


def naive_crop_flip(images: np.ndarray, idx, dy, dx, flip, pad: int = PAD) -> np.ndarray:
    """One image at a time: zero-pad, cut the window at (dy, dx), mirror it if asked."""
    n, c, h, w = images.shape
    out = np.zeros((len(idx), c, h, w), dtype=images.dtype)
    for k, i in enumerate(idx):
        padded = np.zeros((c, h + 2 * pad, w + 2 * pad), dtype=images.dtype)
        padded[:, pad : pad + h, pad : pad + w] = images[i]
        window = padded[:, dy[k] : dy[k] + h, dx[k] : dx[k] + w]
        out[k] = window[:, :, ::-1] if flip[k] else window
    return out


@pytest.mark.parametrize("channels,h,w", [(3, 8, 8), (1, 6, 10)])
def test_crop_flip_matches_a_per_image_loop(channels, h, w):
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (12, channels, h, w), dtype=torch.uint8, generator=g)
    idx = torch.tensor([3, 0, 11, 3, 7, 5])
    draws = draw_augment("crop-flip", 1, len(idx), g)
    dy, dx, flip = draws.dy[0], draws.dx[0], draws.flip[0]
    got = crop_flip(pad_nhwc(images), idx, *crop_windows(dy, dx, flip, (h, w)))
    want = naive_crop_flip(images.numpy(), idx.tolist(), dy.tolist(), dx.tolist(), flip.tolist())
    assert got.shape == (len(idx), channels, h, w)
    np.testing.assert_array_equal(got.numpy(), want)


def test_extreme_offsets_show_the_zero_padding():
    images = torch.full((1, 1, 4, 4), 9, dtype=torch.uint8)
    zero = torch.zeros(1, dtype=torch.long)
    no = torch.tensor([False])
    top_left = crop_flip(pad_nhwc(images), zero, *crop_windows(zero, zero, no, (4, 4)))[0, 0]
    assert top_left.sum() == 0  # a 4-pixel shift of a 4x4 image sees only padding
    centred = torch.full((1,), PAD, dtype=torch.long)
    same = crop_flip(pad_nhwc(images), zero, *crop_windows(centred, centred, no, (4, 4)))
    assert torch.equal(same, images)


def test_draws_cover_the_range_and_are_seeded():
    a = draw_augment("crop-flip", 50, 64, torch.Generator().manual_seed(5))
    b = draw_augment("crop-flip", 50, 64, torch.Generator().manual_seed(5))
    c = draw_augment("crop-flip", 50, 64, torch.Generator().manual_seed(6))
    assert torch.equal(a.dy, b.dy) and torch.equal(a.dx, b.dx) and torch.equal(a.flip, b.flip)
    assert not torch.equal(a.dy, c.dy)
    assert set(a.dy.unique().tolist()) == set(range(2 * PAD + 1))
    assert set(a.dx.unique().tolist()) == set(range(2 * PAD + 1))
    assert 0.4 < a.flip.float().mean() < 0.6  # 3,200 fair coin flips


def test_crop_never_flips_and_none_draws_nothing():
    crop = draw_augment("crop", 10, 8, torch.Generator().manual_seed(0))
    assert not crop.flip.any()
    assert draw_augment("none", 10, 8, torch.Generator().manual_seed(0)) is None
    with pytest.raises(ValueError, match="unknown augmentation"):
        draw_augment("rotate", 1, 1, torch.Generator())


def test_epoch_windows_equal_per_batch_windows():
    d = draw_augment("crop-flip", 3, 5, torch.Generator().manual_seed(9))
    rows, cols = crop_windows(d.dy, d.dx, d.flip, (6, 7))
    assert rows.shape == (3, 5, 6) and cols.shape == (3, 5, 7)
    for s in range(3):
        r, c = crop_windows(d.dy[s], d.dx[s], d.flip[s], (6, 7))
        assert torch.equal(rows[s], r) and torch.equal(cols[s], c)
