"""Samplers and batched augmentation against naive per-sample versions."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from modbench.engine.augment import PAD, augment, random_crop, random_flip
from modbench.engine.sampler import epoch_batches, m_per_class_batches, random_batches


def test_random_batches_are_a_shuffled_pass_without_the_incomplete_tail():
    batches = random_batches(103, 10, torch.Generator().manual_seed(0))
    assert len(batches) == 10 and all(len(b) == 10 for b in batches)
    seen = torch.cat(batches)
    assert len(set(seen.tolist())) == 100  # no repeats
    assert seen.tolist() != list(range(100))  # shuffled
    only = random_batches(7, 10, torch.Generator().manual_seed(0))
    assert len(only) == 1 and sorted(only[0].tolist()) == list(range(7))


def test_random_batches_are_seeded():
    a = random_batches(50, 8, torch.Generator().manual_seed(3))
    b = random_batches(50, 8, torch.Generator().manual_seed(3))
    c = random_batches(50, 8, torch.Generator().manual_seed(4))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))


@pytest.mark.parametrize("n_classes, per_class, batch_size, m", [(10, 20, 32, 4), (3, 7, 16, 4), (50, 5, 64, 2)])
def test_m_per_class_batches_hold_m_of_each_class(n_classes, per_class, batch_size, m):
    labels = torch.arange(n_classes).repeat_interleave(per_class)
    batches = m_per_class_batches(labels, batch_size, m, torch.Generator().manual_seed(0))
    assert batches, "at least one batch"
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
    assert len(batches) == 1 and len(batches[0]) == 20
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
    got = random_crop(images, torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    dy = torch.randint(0, 2 * PAD + 1, (6,), generator=g)
    dx = torch.randint(0, 2 * PAD + 1, (6,), generator=g)
    assert torch.equal(got, naive_crop(images, dy, dx))


def test_random_flip_matches_a_per_image_loop():
    images = torch.randint(0, 256, (16, 1, 4, 5), dtype=torch.uint8)
    got = random_flip(images, torch.Generator().manual_seed(1))
    flip = torch.rand(16, generator=torch.Generator().manual_seed(1)) < 0.5
    expected = torch.stack([img.flip(-1) if f else img for img, f in zip(images, flip.tolist())])
    assert torch.equal(got, expected) and 0 < int(flip.sum()) < 16


def test_augment_none_is_identity_and_unknown_is_refused():
    images = torch.randint(0, 256, (2, 1, 8, 8), dtype=torch.uint8)
    assert augment(images, "none", torch.Generator()) is images
    assert augment(images, "crop-flip", torch.Generator().manual_seed(0)).shape == images.shape
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment(images, "rotate", torch.Generator())
