"""ProxyNCA against a naive per-sample loop over the proxies."""

from __future__ import annotations

import math

import pydantic
import pytest
import torch
import torch.nn.functional as F

from modbench.losses import resolve_loss
from modbench.losses.proxynca import SPEC

from .conftest import EMBEDDING_DIM, NUM_CLASSES, train_steps


def naive_proxynca(embeddings, labels, proxies, scale):
    """-log softmax_c(-scale * ||x - p_c||^2)[y], unit vectors, mean over samples."""
    x = F.normalize(embeddings.double(), dim=1).tolist()
    p = F.normalize(proxies.double(), dim=1).tolist()
    out = []
    for xi, yi in zip(x, labels.tolist()):
        d = [sum((a - b) ** 2 for a, b in zip(xi, pc)) for pc in p]
        norm = sum(math.exp(-scale * dc) for dc in d)
        out.append(-math.log(math.exp(-scale * d[yi]) / norm))
    return sum(out) / len(out)


@pytest.mark.parametrize("scale", [1.0, 3.0])
def test_matches_naive_loop(batch, scale):
    embeddings, labels = batch
    module = SPEC.build(SPEC.params(softmax_scale=scale), NUM_CLASSES, EMBEDDING_DIM)
    assert module.loss.proxies.shape == (NUM_CLASSES, EMBEDDING_DIM)
    assert any(p is module.loss.proxies for p in module.parameters())
    assert module.param_groups()["proxies"]["lr_multiplier"] == 100.0
    value = module(embeddings, labels)
    expected = naive_proxynca(embeddings.detach(), labels, module.loss.proxies.detach(), scale)
    assert value.item() == pytest.approx(expected, rel=1e-5)
    value.backward()
    assert torch.isfinite(module.loss.proxies.grad).all() and module.loss.proxies.grad.abs().sum() > 0


def test_empty_batch():
    module = SPEC.build(SPEC.params(), NUM_CLASSES, EMBEDDING_DIM)
    value = module(torch.zeros(0, EMBEDDING_DIM), torch.zeros(0, dtype=torch.long))
    assert value.item() == 0.0


def test_params():
    assert resolve_loss("proxynca") is SPEC and SPEC.family == "embedding"
    assert SPEC.params().softmax_scale == 9.0
    for bad in [{"softmax_scale": 0.0}, {"proxies": 3}]:
        with pytest.raises(pydantic.ValidationError):
            SPEC.params(**bad)


def test_lowers_its_own_value():
    before, after = train_steps(SPEC, steps=30)
    assert after < 0.5 * before
