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


def naive_npair(embeddings, labels, temperature=1.0):
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
        sims = [float(x[a] @ x[p]) / temperature for _, p in pairs]
        out.append(-(sims[i] - math.log(sum(math.exp(s) for s in sims))))
    return sum(out) / len(out)


def test_matches_naive_loop(batch):
    embeddings, labels = batch
    module = SPEC.build(SPEC.params(form="cosine", temperature=1.0), NUM_CLASSES, EMBEDDING_DIM)
    value = module(embeddings, labels)
    assert value.item() == pytest.approx(naive_npair(embeddings.detach(), labels), rel=1e-5)
    value.backward()
    assert torch.isfinite(embeddings.grad).all() and embeddings.grad.abs().sum() > 0


def test_empty_and_no_pairs():
    module = SPEC.build(SPEC.params(), NUM_CLASSES, EMBEDDING_DIM)
    assert module(torch.zeros(0, EMBEDDING_DIM), torch.zeros(0, dtype=torch.long)).item() == 0.0
    singles = torch.randn(4, EMBEDDING_DIM, requires_grad=True)
    cosine = SPEC.build(SPEC.params(form="cosine"), NUM_CLASSES, EMBEDDING_DIM)
    value = cosine(singles, torch.arange(4))  # one sample per class: no pair
    assert value.item() == 0.0
    value.backward()
    # Sohn's form keeps its L2 penalty (pml applies it to every embedding of the batch).
    penalty = 0.002 * singles.detach().pow(2).sum(1).mean()
    assert module(singles, torch.arange(4)).item() == pytest.approx(penalty.item(), rel=1e-5)


def test_params():
    assert resolve_loss("npair") is SPEC and SPEC.family == "embedding"
    assert SPEC.params().form == "sohn" and SPEC.params().l2_reg == 0.002
    with pytest.raises(pydantic.ValidationError):
        SPEC.params(margin=0.1)


def test_lowers_its_own_value():
    before, after = train_steps(SPEC, steps=30)
    assert after < before


def naive_sohn(embeddings, labels, l2_reg):
    """Sohn 2016, eq. (3) on raw embeddings: log(1 + sum_j exp(f_a f_j+ - f_a f_a+)) over the
    first pair of each class, plus l2_reg times the mean squared norm of the batch's embeddings."""
    x = embeddings.double().tolist()
    pairs = []
    for c in sorted(set(labels.tolist())):
        idx = [i for i, y in enumerate(labels.tolist()) if y == c]
        if len(idx) >= 2:
            pairs.append((idx[0], idx[1]))
    dot = lambda u, v: sum(a * b for a, b in zip(u, v))  # noqa: E731
    out = []
    for a, p in pairs:
        rest = sum(math.exp(dot(x[a], x[q]) - dot(x[a], x[p])) for _, q in pairs if q != p)
        out.append(math.log(1 + rest))
    penalty = sum(dot(v, v) for v in x) / len(x)
    return sum(out) / len(out) + l2_reg * penalty


def test_sohn_form_matches_naive(batch):
    embeddings, labels = batch
    module = SPEC.build(SPEC.params(), NUM_CLASSES, EMBEDDING_DIM)
    value = module(embeddings, labels)
    assert value.item() == pytest.approx(naive_sohn(embeddings.detach(), labels, 0.002), rel=1e-5)
    scaled = embeddings.detach() * 3  # raw inner products: the norm matters, unlike cosine
    assert module(scaled, labels).item() == pytest.approx(naive_sohn(scaled, labels, 0.002), rel=1e-5)


def test_temperature_reaches_the_logits(batch):
    embeddings, labels = batch
    for t in (0.1, 0.5):
        module = SPEC.build(SPEC.params(form="cosine", temperature=t), NUM_CLASSES, EMBEDDING_DIM)
        expected = naive_npair(embeddings.detach() , labels, temperature=t)
        assert module(embeddings, labels).item() == pytest.approx(expected, rel=1e-5)
    # A well-separated batch: at T = 0.1 the loss can approach 0, at T = 1 it cannot.
    perfect = F.one_hot(torch.arange(NUM_CLASSES).repeat(2), EMBEDDING_DIM).float()
    labels = torch.arange(NUM_CLASSES).repeat(2)
    cold = SPEC.build(SPEC.params(form="cosine", temperature=0.1), NUM_CLASSES, EMBEDDING_DIM)
    warm = SPEC.build(SPEC.params(form="cosine", temperature=1.0), NUM_CLASSES, EMBEDDING_DIM)
    assert cold(perfect, labels).item() < 1e-3 < 0.5 < warm(perfect, labels).item()
