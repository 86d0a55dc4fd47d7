"""Samplers and batched augmentation against naive per-sample versions.

(Adapted to the epoch-plan API: samplers return one [steps, batch] tensor; augmentation draws
an epoch's offsets and flips at once and applies them in one gather.)
"""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from modbench.engine.augment import PAD, crop_flip, crop_windows, draw_augment, pad_nhwc
from modbench.engine.sampler import epoch_batches, m_per_class_batches, random_batches


def test_random_batches_are_a_shuffled_pass_without_the_incomplete_tail():
    batches = random_batches(103, 10, torch.Generator().manual_seed(0))
    assert batches.shape == (10, 10)
    seen = batches.flatten()
    assert len(set(seen.tolist())) == 100  # no repeats
    assert seen.tolist() != list(range(100))  # shuffled
    only = random_batches(7, 10, torch.Generator().manual_seed(0))
    assert only.shape == (1, 7) and sorted(only[0].tolist()) == list(range(7))


def test_random_batches_are_seeded():
    a = random_batches(50, 8, torch.Generator().manual_seed(3))
    b = random_batches(50, 8, torch.Generator().manual_seed(3))
    c = random_batches(50, 8, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("n_classes, per_class, batch_size, m", [(10, 20, 32, 4), (3, 7, 16, 4), (50, 5, 64, 2)])
def test_m_per_class_batches_hold_m_of_each_class(n_classes, per_class, batch_size, m):
    labels = torch.arange(n_classes).repeat_interleave(per_class)
    batches = m_per_class_batches(labels, batch_size, m, torch.Generator().manual_seed(0))
    assert len(batches) >= 1
    assert len(batches) <= max(1, len(labels) // batch_size)
    for batch in batches:
        assert len(batch) == (batch_size // m) * m or len(batches) == 1
        counts = Counter(labels[batch].tolist())
        assert all(c % m == 0 for c in counts.values()), counts
        if n_classes >= batch_size // m:
            assert all(c == m for c in counts.values())  # distinct classes when there are enough


def test_m_per_class_with_fewer_groups_than_one_batch_still_trains():
    labels = torch.arange(10).repeat_interleave(2)  # 20 images, 10 groups of 2 < 64 // 2
    batches = epoch_batches(labels, batch_size=64, sampler="m-per-class", m=2, generator=torch.Generator().manual_seed(0))
    assert batches.shape == (1, 20)
    assert sorted(batches[0].tolist()) == list(range(20))


def naive_crop(images, dy, dx, pad=PAD):
    out = []
    for img, y, x in zip(images, dy.tolist(), dx.tolist()):
        padded = torch.zeros(img.shape[0], img.shape[1] + 2 * pad, img.shape[2] + 2 * pad, dtype=img.dtype)
        padded[:, pad : pad + img.shape[1], pad : pad + img.shape[2]] = img
        out.append(padded[:, y : y + img.shape[1], x : x + img.shape[2]])
    return torch.stack(out)


def test_random_crop_matches_a_per_image_loop():
    images = torch.randint(0, 256, (6, 3, 9, 7), dtype=torch.uint8)
    d = draw_augment("crop", 1, 6, torch.Generator().manual_seed(5))
    got = crop_flip(pad_nhwc(images), torch.arange(6), *crop_windows(d.dy[0], d.dx[0], d.flip[0], (9, 7)))
    assert torch.equal(got, naive_crop(images, d.dy[0], d.dx[0]))


def test_random_flip_matches_a_per_image_loop():
    images = torch.randint(0, 256, (16, 1, 4, 5), dtype=torch.uint8)
    d = draw_augment("crop-flip", 1, 16, torch.Generator().manual_seed(1))
    centred = torch.full((16,), PAD)
    got = crop_flip(pad_nhwc(images), torch.arange(16), *crop_windows(centred, centred, d.flip[0], (4, 5)))
    expected = torch.stack([img.flip(-1) if f else img for img, f in zip(images, d.flip[0].tolist())])
    assert torch.equal(got, expected) and 0 < int(d.flip[0].sum()) < 16


def test_augment_none_draws_nothing_and_unknown_is_refused():
    assert draw_augment("none", 3, 2, torch.Generator()) is None
    d = draw_augment("crop-flip", 3, 2, torch.Generator().manual_seed(0))
    assert d.dy.shape == d.dx.shape == d.flip.shape == (3, 2)
    with pytest.raises(ValueError, match="unknown augmentation"):
        draw_augment("rotate", 1, 1, torch.Generator())
