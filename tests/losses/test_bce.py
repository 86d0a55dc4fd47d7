"""``bce``: one-vs-rest binary cross-entropy, the sigmoid reading without its weight."""

from __future__ import annotations

import math

import pytest
import torch

from modbench.losses import resolve_loss
from modbench.losses._common import SoftmaxLoss
from modbench.losses.bce import SPEC, one_vs_rest_bce
from modbench.losses.improved_sigmoid import improved_sigmoid_loss

from .conftest import EMBEDDING_DIM, NUM_CLASSES, train_steps


def naive(logits, target):
    """Loop over samples and classes in Python floats: sum_c -log s(y_c z_c)."""
    out = []
    for z, t in zip(logits.tolist(), target.tolist()):
        total = 0.0
        for c, zc in enumerate(z):
            p = 1 / (1 + math.exp(-zc))  # the probability of class c
            total += -math.log(p) if c == t else -math.log(1 - p)
        out.append(total)
    return torch.tensor(out, dtype=torch.float64)


def test_matches_naive_loop():
    g = torch.Generator().manual_seed(1)
    logits = 3 * torch.randn(12, 7, generator=g, dtype=torch.float64)
    target = torch.randint(0, 7, (12,), generator=g)
    expected = naive(logits, target)
    torch.testing.assert_close(one_vs_rest_bce(logits, target, "none"), expected, rtol=1e-12, atol=0)
    # Summed over classes, averaged over samples (not torch's default mean over B x C).
    torch.testing.assert_close(one_vs_rest_bce(logits, target), expected.mean())
    got32 = one_vs_rest_bce(logits.float(), target, "none").double()
    torch.testing.assert_close(got32, expected, rtol=1e-5, atol=1e-6)


def test_is_the_sigmoid_reading_without_its_weight():
    """improved-sigmoid with beta -> 0 has weight 1/2 everywhere: at gamma = log 2 it is bce."""
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(9, 5, generator=g, dtype=torch.float64)
    target = torch.randint(0, 5, (9,), generator=g)
    sigmoid_reading = improved_sigmoid_loss(logits, target, beta=1e-12, gamma=math.log(2.0))
    torch.testing.assert_close(one_vs_rest_bce(logits, target), sigmoid_reading)


def test_finite_for_huge_logits_and_empty_batch():
    logits = torch.tensor([[1e4, -1e4, 0.0]], requires_grad=True)
    value = one_vs_rest_bce(logits, torch.tensor([1]))
    value.backward()
    assert torch.isfinite(value) and value.item() == pytest.approx(2e4 + math.log(2), rel=1e-6)
    assert torch.isfinite(logits.grad).all()
    module = SPEC.build(SPEC.params(), NUM_CLASSES, EMBEDDING_DIM)
    empty = torch.zeros(0, EMBEDDING_DIM, requires_grad=True)
    value = module(empty, torch.zeros(0, dtype=torch.long))
    value.backward()
    assert value.item() == 0.0 and torch.all(module.classifier.weight.grad == 0)


def test_module_classifier_scale_and_params(batch):
    embeddings, labels = batch
    assert resolve_loss("bce") is SPEC and SPEC.family == "softmax" and SPEC.search_space == {}
    torch.manual_seed(0)
    module = SPEC.build(SPEC.params(loss_scale=148.41), NUM_CLASSES, EMBEDDING_DIM)
    assert isinstance(module, SoftmaxLoss) and module.loss_scale == 148.41
    logits = module.classifier(embeddings)
    torch.testing.assert_close(module(embeddings, labels), 148.41 * one_vs_rest_bce(logits, labels))
    module(embeddings, labels).backward()
    assert embeddings.grad is not None and torch.isfinite(embeddings.grad).all()
    with pytest.raises(Exception):
        SPEC.params(beta=4.0)  # no parameters of its own


def test_lowers_its_own_value():
    before, after = train_steps(SPEC)
    assert after < 0.5 * before
