"""Shared helpers of the loss tests: a small separable problem and a short training loop."""

from __future__ import annotations

import pytest
import torch
from torch import nn

NUM_CLASSES = 4
INPUT_DIM = 16
EMBEDDING_DIM = 8


def clusters(per_class: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """4 Gaussian clusters in 16-D, well apart (centres ~N(0, 3^2), unit noise), class-balanced."""
    g = torch.Generator().manual_seed(seed)
    centres = 3.0 * torch.randn(NUM_CLASSES, INPUT_DIM, generator=g)
    labels = torch.arange(NUM_CLASSES).repeat_interleave(per_class)
    x = centres[labels] + torch.randn(len(labels), INPUT_DIM, generator=g)
    return x, labels


def loss_value(embedder: nn.Module, loss: nn.Module, x, y, seed: int = 0) -> float:
    """The loss on (x, y), with the RNG fixed so that random miners sample the same way."""
    torch.manual_seed(seed)
    with torch.no_grad():
        return float(loss(embedder(x), y))


def train_steps(spec, params=None, steps: int = 30, lr: float = 1e-2, seed: int = 0):
    """Build ``spec``'s loss on a Linear embedder; value on a fixed batch before and after."""
    torch.manual_seed(seed)
    params = spec.params(**(params or {}))
    embedder = nn.Linear(INPUT_DIM, EMBEDDING_DIM)
    loss = spec.build(params, NUM_CLASSES, EMBEDDING_DIM)
    x, y = clusters()
    optimizer = torch.optim.Adam([*embedder.parameters(), *loss.parameters()], lr=lr)
    before = loss_value(embedder, loss, x, y)
    for step in range(steps):
        torch.manual_seed(1000 + step)
        optimizer.zero_grad()
        value = loss(embedder(x), y)
        value.backward()
        optimizer.step()
    after = loss_value(embedder, loss, x, y)
    return before, after


@pytest.fixture
def batch():
    torch.manual_seed(0)
    x, y = clusters(per_class=4)
    return torch.randn(len(y), EMBEDDING_DIM, requires_grad=True), y
