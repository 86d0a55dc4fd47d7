"""The controls of every loss: ``loss_scale`` on every loss, per-sample weights, and the
interaction of exp(gamma) with Adam's coupled weight decay (docs/losses.md)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from modbench.losses import loss_names, resolve_loss

from .conftest import EMBEDDING_DIM, INPUT_DIM, NUM_CLASSES, clusters


@pytest.mark.parametrize("name", [*loss_names(), "pml:ContrastiveLoss"])
def test_loss_scale_multiplies_loss_and_gradient(name):
    spec = resolve_loss(name)
    x, y = clusters(per_class=4)
    embeddings = torch.randn(len(y), EMBEDDING_DIM, generator=torch.Generator().manual_seed(5))
    values, grads = [], []
    for scale in (1.0, 148.41):
        torch.manual_seed(0)  # same classifier / proxies / beta
        module = spec.build(spec.params(loss_scale=scale), NUM_CLASSES, EMBEDDING_DIM)
        e = embeddings.clone().requires_grad_(True)
        torch.manual_seed(1)  # same random mining
        value = module(e, y)
        value.backward()
        values.append(value.item())
        grads.append(e.grad)
    assert values[0] != 0.0
    assert values[1] == pytest.approx(148.41 * values[0], rel=1e-5)
    torch.testing.assert_close(grads[1], 148.41 * grads[0], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["improved", "improved-sigmoid", "improved-prob", "focal"])
def test_sample_weights_are_the_formulas_weight(name):
    spec = resolve_loss(name)
    module = spec.build(spec.params(), NUM_CLASSES, EMBEDDING_DIM)
    embeddings = torch.randn(8, EMBEDDING_DIM, requires_grad=True)
    labels = torch.arange(NUM_CLASSES).repeat(2)
    weights = module.sample_weights(embeddings, labels)
    assert weights.shape == (8,) and not weights.requires_grad
    logits = module.classifier(embeddings).detach().double()
    z_t = logits.gather(1, labels[:, None]).squeeze(1)
    if name == "improved":  # softmax(-beta z)[y], beta 4
        expected = torch.softmax(-4.0 * logits, 1).gather(1, labels[:, None]).squeeze(1)
    elif name == "improved-sigmoid":  # sigmoid(-beta z_y)
        expected = torch.sigmoid(-4.0 * z_t)
    elif name == "improved-prob":  # sigmoid(-beta logit(p_y))
        p = torch.softmax(logits, 1).gather(1, labels[:, None]).squeeze(1)
        expected = torch.sigmoid(-4.0 * torch.log(p / (1 - p)))
    else:  # (1 - p_y)^2
        expected = (1 - torch.softmax(logits, 1).gather(1, labels[:, None]).squeeze(1)) ** 2
    torch.testing.assert_close(weights.double(), expected, rtol=1e-5, atol=1e-8)
    for unweighted in ("cross-entropy", "bce"):
        spec = resolve_loss(unweighted)
        assert not hasattr(spec.build(spec.params(), NUM_CLASSES, EMBEDDING_DIM), "sample_weights")


def trajectory(gamma: float, optimizer: str, weight_decay: float, steps: int = 40) -> torch.Tensor:
    """All parameters after ``steps`` full-batch steps of the paper's loss at ``gamma``, in
    float64, from the same initial weights."""
    torch.manual_seed(0)
    embedder = nn.Linear(INPUT_DIM, EMBEDDING_DIM).double()
    spec = resolve_loss("improved")
    loss = spec.build(spec.params(beta=4.0, gamma=gamma), NUM_CLASSES, EMBEDDING_DIM).double()
    params = [*embedder.parameters(), *loss.parameters()]
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[optimizer]
    opt = cls(params, lr=1e-2, weight_decay=weight_decay)
    x, y = clusters()
    for _ in range(steps):
        opt.zero_grad()
        loss(embedder(x.double()), y).backward()
        opt.step()
    return torch.cat([p.detach().flatten() for p in params])


def test_exp_gamma_mostly_weakens_coupled_weight_decay():
    """Adam normalises the gradient scale exp(gamma) away (up to its eps); coupled L2 decay is
    added to the gradient, so its relative strength falls to 4e-4 * exp(-gamma): gamma 0 and
    gamma 5 then train differently. AdamW's decoupled decay is not scaled: they agree again."""
    assert 4e-4 * math.exp(-5) == pytest.approx(2.7e-6, rel=0.01)
    assert 4e-4 * math.exp(-10) == pytest.approx(1.8e-8, rel=0.01)
    no_decay = (trajectory(0.0, "adam", 0.0) - trajectory(5.0, "adam", 0.0)).abs().max().item()
    coupled = (trajectory(0.0, "adam", 4e-4) - trajectory(5.0, "adam", 4e-4)).abs().max().item()
    decoupled = (trajectory(0.0, "adamw", 4e-4) - trajectory(5.0, "adamw", 4e-4)).abs().max().item()
    # Adam's eps (1e-8) against gradients as small as ~1e-4: 40 steps of lr 1e-2 move a weight
    # by at most ~40 * 1e-2 * 1e-8 / 1e-4 = 4e-5 apart (measured: 8e-6).
    assert no_decay < 4e-5
    assert decoupled < 4e-5
    # Measured: 1.2e-2, three orders of magnitude more.
    assert coupled > 500 * max(no_decay, decoupled)
