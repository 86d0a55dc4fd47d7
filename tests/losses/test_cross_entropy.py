"""Cross-entropy (with label smoothing) against a naive per-sample float64 loop."""

from __future__ import annotations

import math

import pydantic
import pytest
import torch

from modbench.losses import resolve_loss
from modbench.losses.cross_entropy import SPEC, CrossEntropyParams

from .conftest import EMBEDDING_DIM, NUM_CLASSES, train_steps


def naive_cross_entropy(logits, target, eps):
    """(1 - eps) * -log p_y + eps * mean_c(-log p_c), per sample, then the batch mean."""
    out = []
    for z, y in zip(logits.tolist(), target.tolist()):
        log_norm = math.log(sum(math.exp(zc) for zc in z))
        nll = [log_norm - zc for zc in z]
        out.append((1 - eps) * nll[y] + eps * sum(nll) / len(z))
    return sum(out) / len(out)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.5])
def test_matches_naive_loop(batch, eps):
    embeddings, labels = batch
    module = SPEC.build(SPEC.params(label_smoothing=eps), NUM_CLASSES, EMBEDDING_DIM)
    value = module(embeddings, labels)
    logits = module.classifier(embeddings).detach().double()
    assert value.item() == pytest.approx(naive_cross_entropy(logits, labels, eps), rel=1e-5)
    value.backward()
    assert torch.isfinite(embeddings.grad).all()


def test_finite_for_huge_logits():
    module = SPEC.build(SPEC.params(label_smoothing=0.1), 3, 2)
    with torch.no_grad():
        module.classifier.weight.copy_(torch.tensor([[1e4, 0.0], [-1e4, 0.0], [0.0, 1e4]]))
    embeddings = torch.tensor([[1.0, 0.0], [1.0, -1.0]], requires_grad=True)
    value = module(embeddings, torch.tensor([1, 2]))  # both confidently wrong
    assert torch.isfinite(value)
    value.backward()
    assert torch.isfinite(embeddings.grad).all()


def test_float32_under_autocast(batch):
    embeddings, labels = batch
    module = SPEC.build(SPEC.params(), NUM_CLASSES, EMBEDDING_DIM)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert module(embeddings, labels).dtype == torch.float32


def test_empty_batch():
    module = SPEC.build(SPEC.params(), NUM_CLASSES, EMBEDDING_DIM)
    value = module(torch.zeros(0, EMBEDDING_DIM), torch.zeros(0, dtype=torch.long))
    assert value.item() == 0.0
    value.backward()
    assert module.classifier.weight.grad.abs().sum() == 0


def test_params():
    assert resolve_loss("cross-entropy") is SPEC and SPEC.family == "softmax"
    assert SPEC.params() == CrossEntropyParams(label_smoothing=0.0)
    for bad in [{"label_smoothing": 1.0}, {"label_smoothing": -0.1}, {"smoothing": 0.1}]:
        with pytest.raises(pydantic.ValidationError):
            SPEC.params(**bad)


def test_lowers_its_own_value():
    before, after = train_steps(SPEC, steps=20)
    assert after < 0.5 * before
