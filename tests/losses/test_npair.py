"""N-pair loss against a naive loop over one (anchor, positive) pair per class."""

from __future__ import annotations

import math

import pydantic
import pytest
import torch
import torch.nn.functional as F

from modbench.losses import resolve_loss
from modbench.losses.npair import SPEC

from .conftest import EMBEDDING_DIM, NUM_CLASSES, train_steps


def naive_npair(embeddings, labels):
    """Anchor: the first sample of each class; positive: its second. Softmax over the positives
    of the cosine similarities, -log of the matching one, mean over classes."""
    x = F.normalize(embeddings.double(), dim=1)
    pairs = []
    for c in sorted(set(labels.tolist())):
        idx = [i for i, y in enumerate(labels.tolist()) if y == c]
        if len(idx) >= 2:
            pairs.append((idx[0], idx[1]))
    out = []
    for i, (a, _) in enumerate(pairs):
        sims = [float(x[a] @ x[p]) for _, p in pairs]
        out.append(-(sims[i] - math.log(sum(math.exp(s) for s in sims))))
    return sum(out) / len(out)


def test_matches_naive_loop(batch):
    embeddings, labels = batch
    module = SPEC.build(SPEC.params(), NUM_CLASSES, EMBEDDING_DIM)
    value = module(embeddings, labels)
    assert value.item() == pytest.approx(naive_npair(embeddings.detach(), labels), rel=1e-5)
    value.backward()
    assert torch.isfinite(embeddings.grad).all() and embeddings.grad.abs().sum() > 0


def test_empty_and_no_pairs():
    module = SPEC.build(SPEC.params(), NUM_CLASSES, EMBEDDING_DIM)
    assert module(torch.zeros(0, EMBEDDING_DIM), torch.zeros(0, dtype=torch.long)).item() == 0.0
    singles = torch.randn(4, EMBEDDING_DIM, requires_grad=True)
    value = module(singles, torch.arange(4))  # one sample per class: no pair
    assert value.item() == 0.0
    value.backward()


def test_params():
    assert resolve_loss("npair") is SPEC and SPEC.family == "embedding"
    assert SPEC.params().model_dump() == {}
    with pytest.raises(pydantic.ValidationError):
        SPEC.params(margin=0.1)


def test_lowers_its_own_value():
    before, after = train_steps(SPEC, steps=30)
    assert after < before
