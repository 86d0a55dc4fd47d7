"""Focal loss against a naive per-sample float64 loop; gamma = 0 is cross-entropy."""

from __future__ import annotations

import math

import pydantic
import pytest
import torch
import torch.nn.functional as F

from modbench.losses import resolve_loss
from modbench.losses.focal import SPEC, FocalParams, focal_loss

from .conftest import EMBEDDING_DIM, NUM_CLASSES, train_steps


def naive_focal(logits, target, gamma, alpha=None):
    """-alpha_y * (1 - p_y)^gamma * log p_y per sample, in Python floats."""
    out = []
    for z, y in zip(logits.tolist(), target.tolist()):
        p_y = math.exp(z[y]) / sum(math.exp(zc) for zc in z)
        a = 1.0 if alpha is None else (alpha[y] if isinstance(alpha, list) else alpha)
        out.append(-a * (1 - p_y) ** gamma * math.log(p_y))
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
@pytest.mark.parametrize("alpha", [None, 0.25, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]])
def test_matches_naive_loop(gamma, alpha):
    g = torch.Generator().manual_seed(5)
    logits = 3 * torch.randn(10, 6, generator=g, dtype=torch.float64)
    target = torch.randint(0, 6, (10,), generator=g)
    a = torch.tensor(alpha, dtype=torch.float64) if isinstance(alpha, list) else alpha
    got = focal_loss(logits, target, gamma, a, reduction="none")
    torch.testing.assert_close(got, naive_focal(logits, target, gamma, alpha), rtol=1e-12, atol=0)


def test_gamma_zero_is_cross_entropy(batch):
    g = torch.Generator().manual_seed(6)
    logits = 5 * torch.randn(20, 7, generator=g)
    target = torch.randint(0, 7, (20,), generator=g)
    torch.testing.assert_close(focal_loss(logits, target, 0.0), F.cross_entropy(logits, target))
    # The modules agree too, given the same classifier.
    embeddings, labels = batch
    focal = SPEC.build(SPEC.params(gamma=0.0), NUM_CLASSES, EMBEDDING_DIM)
    ce = resolve_loss("cross-entropy").build(
        resolve_loss("cross-entropy").params(), NUM_CLASSES, EMBEDDING_DIM
    )
    ce.classifier.load_state_dict(focal.classifier.state_dict())
    torch.testing.assert_close(focal(embeddings, labels), ce(embeddings, labels))


def test_gradcheck_float64():
    g = torch.Generator().manual_seed(7)
    logits = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 4, (5,), generator=g)
    assert torch.autograd.gradcheck(lambda z: focal_loss(z, target, 2.0, reduction="none"), (logits,))
    assert torch.autograd.gradcheck(lambda z: focal_loss(z, target, 0.5), (logits,))


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_finite_for_huge_logits(gamma):
    g = torch.Generator().manual_seed(8)
    logits = (1e4 * torch.randn(32, 10, generator=g)).clamp(-1e4, 1e4)
    logits[0] = torch.tensor([1e4] + [-1e4] * 9)  # p_y == 1 exactly in float32
    logits.requires_grad_(True)
    target = torch.randint(0, 10, (32,), generator=g)
    target[0] = 0
    losses = focal_loss(logits, target, gamma, reduction="none")
    assert torch.isfinite(losses).all() and losses[0].item() == 0.0
    losses.mean().backward()
    assert torch.isfinite(logits.grad).all()


def test_empty_batch_and_module_empty():
    logits = torch.zeros(0, 3, requires_grad=True)
    value = focal_loss(logits, torch.zeros(0, dtype=torch.long))
    assert value.item() == 0.0
    value.backward()
    module = SPEC.build(SPEC.params(), NUM_CLASSES, EMBEDDING_DIM)
    assert module(torch.zeros(0, EMBEDDING_DIM), torch.zeros(0, dtype=torch.long)).item() == 0.0


def test_module_alpha(batch):
    embeddings, labels = batch
    module = SPEC.build(SPEC.params(alpha=0.25), NUM_CLASSES, EMBEDDING_DIM)
    logits = module.classifier(embeddings).detach().double()
    expected = naive_focal(logits, labels, 2.0, 0.25).mean()
    assert module(embeddings, labels).item() == pytest.approx(expected.item(), rel=1e-5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert module(embeddings, labels).dtype == torch.float32


def test_per_class_alpha_shape_checked():
    with pytest.raises(ValueError, match="alpha"):
        focal_loss(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), 2.0, torch.ones(4))


def test_params():
    assert resolve_loss("focal") is SPEC and SPEC.family == "softmax"
    assert SPEC.params() == FocalParams(gamma=2.0, alpha=None)
    for bad in [{"gamma": -1.0}, {"gamma": float("inf")}, {"alpha": 0.0}, {"alpha": [0.25, 0.5]}, {"alpha": float("inf")},
                {"alpha": "0.25"}, {"beta": 1.0}]:
        with pytest.raises(pydantic.ValidationError):
            SPEC.params(**bad)


def test_lowers_its_own_value():
    before, after = train_steps(SPEC, steps=20)
    assert after < 0.5 * before
