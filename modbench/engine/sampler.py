"""Batch samplers: the index batches of one epoch, drawn from a seeded CPU generator.

Every loss of a suite gets the same batches for the same seed and epoch (README.md, "The protocol").
A sampler returns one int64 tensor [steps, batch] for the whole epoch, which the training loop
moves to the device once; nothing is drawn per step and nothing is done per sample in Python.
"""

from __future__ import annotations

import numpy as np
import torch


def random_batches(n: int, batch_size: int, generator: torch.Generator) -> torch.Tensor:
    """A shuffled pass over ``n`` samples, [n // batch_size, batch_size]; the last batch is
    dropped when incomplete, unless it would be the only one (metric-learning losses need full
    batches to find pairs): then the result is the single batch [1, n]."""
    order = torch.randperm(n, generator=generator)
    full = n // batch_size
    if full == 0:
        return order.view(1, n)
    return order[: full * batch_size].view(full, batch_size)


def m_per_class_batches(
    labels: torch.Tensor, batch_size: int, m: int, generator: torch.Generator
) -> torch.Tensor:
    """Class-balanced batches: ``G = max(1, batch_size // m)`` groups of ``m`` samples of one class
    per batch; [steps, G * m].

    Groups: each class's samples are shuffled and cut into groups of ``m``; a class with fewer
    than ``m`` samples, or a last short group, is filled by repeating random samples of its own.
    Batches: each batch takes one group from each of the ``min(G, C)`` classes with the most
    groups not used yet this epoch (ties broken at random), so the classes in a batch are
    distinct whenever ``G <= C`` and every class is drained at the same pace; when ``G > C`` a
    batch repeats this choice in layers until it has ``G`` groups (each class then appears
    ``G // C`` or ``G // C + 1`` times). A class that has used all its groups is drawn again
    (from its first group) only when every class has. An epoch has as many batches as a random
    pass over the data would, ``len(labels) // (G m)``; with fewer than ``G`` groups in all, it
    is one batch of every group once.
    """
    labels = labels.cpu()
    classes, class_of = torch.unique(labels, return_inverse=True)
    num_classes = len(classes)
    groups_per_batch = max(1, batch_size // m)

    # Per class: shuffled indices, filled up to a multiple of m, as rows of m.
    order = torch.argsort(class_of, stable=True)
    counts = torch.bincount(class_of, minlength=num_classes)
    starts = torch.cumsum(counts, 0) - counts
    n_groups = torch.clamp((counts + m - 1) // m, min=1)  # groups per class
    group_rows: list[torch.Tensor] = []
    for c in range(num_classes):  # one iteration per class, not per sample
        idx = order[starts[c] : starts[c] + counts[c]]
        idx = idx[torch.randperm(len(idx), generator=generator)]
        need = int(n_groups[c]) * m
        if need > len(idx):
            idx = torch.cat([idx, idx[torch.randint(0, len(idx), (need - len(idx),), generator=generator)]])
        group_rows.append(idx.view(-1, m))
    group_start = torch.cumsum(n_groups, 0) - n_groups  # first row of each class in ``groups``
    groups = torch.cat(group_rows)  # [total groups, m]

    # Fewer groups than one batch: a single batch holding each group once.
    groups_per_batch = min(groups_per_batch, len(groups))

    # Which classes each batch takes, layer by layer: the classes with the most groups left (a
    # class with none left only once every class has used all of its groups; noise in [0, 1)
    # breaks ties at random). A loop per batch and layer on small numpy arrays (C values), a few
    # microseconds each; the chosen set is sorted, so the result does not depend on how numpy
    # orders a partition.
    n_batches = max(1, len(labels) // (groups_per_batch * m))
    noise = torch.rand(n_batches, num_classes, generator=generator, dtype=torch.float64).numpy()
    left = n_groups.numpy().astype(np.float64)
    slots = np.empty((n_batches, groups_per_batch), dtype=np.int64)  # class of each group slot
    for b in range(n_batches):
        filled = 0
        while filled < groups_per_batch:
            available = int((left > 0).sum()) or num_classes
            k = min(groups_per_batch - filled, num_classes, available)
            chosen = np.sort(np.argpartition(-(left + noise[b]), k - 1)[:k])
            slots[b, filled : filled + k] = chosen
            left[chosen] -= 1.0
            filled += k
    slots = torch.from_numpy(slots)

    # The j-th time a class is chosen it gets its group j (mod its number of groups).
    flat = slots.flatten()
    by_class = torch.argsort(flat, stable=True)
    per_class = torch.bincount(flat, minlength=num_classes)
    first = torch.cumsum(per_class, 0) - per_class
    rank = torch.empty_like(flat)
    rank[by_class] = torch.arange(len(flat)) - first[flat[by_class]]
    rows = group_start[flat] + rank % n_groups[flat]
    return groups[rows].view(n_batches, groups_per_batch * m)


def epoch_batches(
    labels: torch.Tensor, *, batch_size: int, sampler: str, m: int, generator: torch.Generator
) -> torch.Tensor:
    """The epoch's batches as an int64 tensor [steps, batch] (on the CPU)."""
    if sampler == "random":
        return random_batches(len(labels), batch_size, generator)
    if sampler == "m-per-class":
        return m_per_class_batches(labels, batch_size, m, generator)
    raise ValueError(f"unknown sampler '{sampler}'")


def steps_per_epoch(n: int, *, batch_size: int, sampler: str, m: int) -> int:
    """The number of batches ``epoch_batches`` gives for ``n`` training samples."""
    if sampler == "random":
        return max(1, n // batch_size)
    if sampler == "m-per-class":
        return max(1, n // (max(1, batch_size // m) * m))
    raise ValueError(f"unknown sampler '{sampler}'")
