"""Batch samplers: the index batches of one epoch, drawn from a seeded CPU generator.

Every loss of a suite gets the same batches for the same seed and epoch (DESIGN.md section 1).
"""

from __future__ import annotations

from collections import deque

import torch


def random_batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """A shuffled pass over ``n`` samples; the last batch is dropped when incomplete, unless it
    would be the only one (metric-learning losses need full batches to find pairs)."""
    order = torch.randperm(n, generator=generator)
    full = n // batch_size
    if full == 0:
        return [order]
    return list(order[: full * batch_size].view(full, batch_size))


def m_per_class_batches(
    labels: torch.Tensor, batch_size: int, m: int, generator: torch.Generator
) -> list[torch.Tensor]:
    """Class-balanced batches: ``batch_size // m`` classes per batch, ``m`` samples of each.

    Each class's samples are shuffled and cut into groups of ``m`` (a class with fewer than ``m``
    samples, or a last short group, is filled by repeating its own samples); the groups are
    shuffled and packed, distinct classes within a batch where possible. An epoch has as many
    batches as a random pass over the data would.
    """
    labels = labels.cpu()
    classes = torch.unique(labels)
    groups_per_batch = max(1, batch_size // m)
    groups: list[torch.Tensor] = []
    group_class: list[int] = []
    for c in classes.tolist():
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=generator)]
        n_groups = max(1, (len(idx) + m - 1) // m)
        need = n_groups * m
        if need > len(idx):
            extra = idx[torch.randint(0, len(idx), (need - len(idx),), generator=generator)]
            idx = torch.cat([idx, extra])
        for g in idx.view(n_groups, m):
            groups.append(g)
            group_class.append(c)
    pending = deque(torch.randperm(len(groups), generator=generator).tolist())
    n_batches = max(1, len(labels) // (groups_per_batch * m))
    batches: list[torch.Tensor] = []
    while len(batches) < n_batches and pending:
        if len(pending) < groups_per_batch and batches:
            break  # an incomplete last batch is dropped, unless it would be the only one
        chosen: list[int] = []
        seen: set[int] = set()
        skipped: list[int] = []
        while pending and len(chosen) < groups_per_batch:
            gi = pending.popleft()
            if group_class[gi] in seen:
                skipped.append(gi)
            else:
                chosen.append(gi)
                seen.add(group_class[gi])
        while len(chosen) < groups_per_batch and skipped:  # fewer classes than groups per batch
            chosen.append(skipped.pop(0))
        pending.extendleft(reversed(skipped))
        batches.append(torch.cat([groups[gi] for gi in chosen]))
    return batches


def epoch_batches(
    labels: torch.Tensor, *, batch_size: int, sampler: str, m: int, generator: torch.Generator
) -> list[torch.Tensor]:
    if sampler == "random":
        return random_batches(len(labels), batch_size, generator)
    if sampler == "m-per-class":
        return m_per_class_batches(labels, batch_size, m, generator)
    raise ValueError(f"unknown sampler '{sampler}'")
