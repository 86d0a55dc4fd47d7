"""Epoch samplers: shapes, coverage, class balance and seeding."""

from __future__ import annotations

import pytest
import torch

from modbench.engine.sampler import epoch_batches, m_per_class_batches, random_batches, steps_per_epoch


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_random_batches_are_a_partial_permutation():
    b = random_batches(103, 10, gen())
    assert b.shape == (10, 10)
    assert len(set(b.flatten().tolist())) == 100  # no repeats, last 3 dropped
    assert set(b.flatten().tolist()) <= set(range(103))
    assert random_batches(7, 10, gen()).shape == (1, 7)  # the only batch is kept


def _check_groups(labels, batches, m):
    lab = labels[batches].view(batches.shape[0], -1, m)
    assert (lab == lab[..., :1]).all(), "each group of m holds one class"
    return lab[..., 0]  # [steps, groups] class of each group


def test_m_per_class_distinct_classes_and_every_group_once():
    labels = torch.arange(20).repeat_interleave(12)[torch.randperm(240, generator=gen(3))]
    batches = m_per_class_batches(labels, batch_size=24, m=4, generator=gen())
    assert batches.shape == (10, 24) == (steps_per_epoch(240, batch_size=24, sampler="m-per-class", m=4), 24)
    classes = _check_groups(labels, batches, 4)
    for row in classes.tolist():
        assert len(set(row)) == len(row) == 6  # G = 6 <= C = 20: distinct classes
    # 60 groups of 4, 10 batches of 6 groups: each sample exactly once.
    assert sorted(batches.flatten().tolist()) == list(range(240))


def test_m_per_class_more_groups_than_classes_is_balanced():
    labels = torch.arange(3).repeat_interleave(40)
    batches = m_per_class_batches(labels, batch_size=32, m=4, generator=gen(1))  # G = 8 > C = 3
    classes = _check_groups(labels, batches, 4)
    for row in classes.tolist():
        counts = sorted(row.count(c) for c in range(3))
        assert counts == [2, 3, 3]  # 8 groups over 3 classes, as even as possible


def test_m_per_class_small_class_is_filled_from_itself():
    labels = torch.tensor([0] * 10 + [1] * 2 + [2] * 9)
    batches = m_per_class_batches(labels, batch_size=12, m=4, generator=gen())
    _check_groups(labels, batches, 4)
    ones = batches[labels[batches] == 1]
    assert set(ones.tolist()) <= {10, 11}


@pytest.mark.parametrize("sampler", ["random", "m-per-class"])
def test_epoch_batches_depend_only_on_the_seed(sampler):
    labels = torch.arange(10).repeat(30)
    a = epoch_batches(labels, batch_size=16, sampler=sampler, m=4, generator=gen(7))
    b = epoch_batches(labels, batch_size=16, sampler=sampler, m=4, generator=gen(7))
    c = epoch_batches(labels, batch_size=16, sampler=sampler, m=4, generator=gen(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape[0] == steps_per_epoch(300, batch_size=16, sampler=sampler, m=4)
