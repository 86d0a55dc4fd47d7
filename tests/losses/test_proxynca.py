"""ProxyNCA (Movshovitz-Attias et al. 2017, positive proxy out of the denominator) and
ProxyNCA++ (Teh et al. 2020, positive proxy in it), each against a naive per-sample loop."""

from __future__ import annotations

import math

import pydantic
import pytest
import torch
import torch.nn.functional as F

from modbench.losses import resolve_loss
from modbench.losses.proxynca import SPEC
from modbench.losses.proxynca_pp import SPEC as SPEC_PP

from .conftest import EMBEDDING_DIM, NUM_CLASSES, train_steps


def naive(embeddings, labels, proxies, scale, positive_in_denominator):
    """-log( exp(-s d(x, p_y)) / sum_z exp(-s d(x, p_z)) ), d = squared distance of the unit
    vectors, z over every proxy (ProxyNCA++) or every proxy but p_y (ProxyNCA); batch mean."""
    x = F.normalize(embeddings.double(), dim=1).tolist()
    p = F.normalize(proxies.double(), dim=1).tolist()
    out = []
    for xi, yi in zip(x, labels.tolist()):
        d = [sum((a - b) ** 2 for a, b in zip(xi, pc)) for pc in p]
        norm = sum(math.exp(-scale * dc) for c, dc in enumerate(d) if positive_in_denominator or c != yi)
        out.append(-math.log(math.exp(-scale * d[yi]) / norm))
    return sum(out) / len(out)


@pytest.mark.parametrize("scale", [1.0, 3.0])
def test_proxynca_excludes_the_positive_proxy(batch, scale):
    embeddings, labels = batch
    module = SPEC.build(SPEC.params(softmax_scale=scale), NUM_CLASSES, EMBEDDING_DIM)
    assert module.loss.proxies.shape == (NUM_CLASSES, EMBEDDING_DIM)
    assert any(p is module.loss.proxies for p in module.parameters())
    value = module(embeddings, labels)
    proxies = module.loss.proxies.detach()
    expected = naive(embeddings.detach(), labels, proxies, scale, positive_in_denominator=False)
    assert value.item() == pytest.approx(expected, rel=1e-5)
    assert value.item() != pytest.approx(naive(embeddings.detach(), labels, proxies, scale, True), rel=1e-3)
    value.backward()
    assert torch.isfinite(module.loss.proxies.grad).all() and module.loss.proxies.grad.abs().sum() > 0


@pytest.mark.parametrize("scale", [9.0, 3.0])
def test_proxynca_pp_includes_the_positive_proxy(batch, scale):
    embeddings, labels = batch
    module = SPEC_PP.build(SPEC_PP.params(softmax_scale=scale), NUM_CLASSES, EMBEDDING_DIM)
    value = module(embeddings, labels)
    proxies = module.loss.proxies.detach()
    expected = naive(embeddings.detach(), labels, proxies, scale, positive_in_denominator=True)
    assert value.item() == pytest.approx(expected, rel=1e-5)
    value.backward()
    assert torch.isfinite(module.loss.proxies.grad).all() and module.loss.proxies.grad.abs().sum() > 0


def test_temperature_as_the_reference_applies_it():
    """ProxyNCA++'s code multiplies both normalised vectors by scale = 3 (sqrt(1/T)) and takes
    squared distances: the same as softmax_scale 9 on the unit vectors' squared distances."""
    g = torch.Generator().manual_seed(0)
    x, p = torch.randn(6, EMBEDDING_DIM, generator=g), torch.randn(NUM_CLASSES, EMBEDDING_DIM, generator=g)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    module = SPEC_PP.build(SPEC_PP.params(), NUM_CLASSES, EMBEDDING_DIM)
    with torch.no_grad():
        module.loss.proxies.copy_(p)
    xs, ps = 3 * F.normalize(x, dim=1), 3 * F.normalize(p, dim=1)
    d = torch.cdist(xs, ps) ** 2
    reference = -(F.log_softmax(-d, dim=1).gather(1, labels[:, None])).mean()
    assert module(x, labels).item() == pytest.approx(reference.item(), rel=1e-5)


def test_empty_batch_and_one_class():
    for spec in (SPEC, SPEC_PP):
        module = spec.build(spec.params(), NUM_CLASSES, EMBEDDING_DIM)
        e = torch.zeros(0, EMBEDDING_DIM, requires_grad=True)
        value = module(e, torch.zeros(0, dtype=torch.long))
        assert value.item() == 0.0
        value.backward()
    single = SPEC.build(SPEC.params(), 1, EMBEDDING_DIM)  # no negative proxy at all
    assert single(torch.randn(3, EMBEDDING_DIM), torch.zeros(3, dtype=torch.long)).item() == 0.0


def test_params():
    assert resolve_loss("proxynca") is SPEC and SPEC.family == "embedding"
    assert resolve_loss("proxynca++") is SPEC_PP and SPEC_PP.family == "embedding"
    assert (SPEC.params().softmax_scale, SPEC.params().proxy_lr_multiplier) == (1.0, 1.0)
    pp = SPEC_PP.params()
    assert (pp.softmax_scale, pp.proxy_lr, pp.proxy_momentum) == (9.0, 40.0, 0.9)
    for spec, bad in [(SPEC, {"softmax_scale": 0.0}), (SPEC, {"proxies": 3}),
                      (SPEC_PP, {"proxy_lr_multiplier": 2.0}), (SPEC_PP, {"proxy_momentum": 1.0})]:
        with pytest.raises(pydantic.ValidationError):
            spec.params(**bad)


@pytest.mark.parametrize("spec", [SPEC, SPEC_PP])
def test_lowers_its_own_value(spec):
    before, after = train_steps(spec, steps=30)
    assert after < before - 0.1
