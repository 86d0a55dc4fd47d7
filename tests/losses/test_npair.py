"""N-pair loss against a naive loop of TensorFlow's ``npairs_loss`` over every pair of the batch."""

from __future__ import annotations

import math

import pydantic
import pytest
import torch
import torch.nn.functional as F

from modbench.losses import resolve_loss
from modbench.losses.npair import SPEC, pair_indices

from .conftest import EMBEDDING_DIM, NUM_CLASSES, train_steps


def naive_pairs(labels):
    """Per class (increasing), its images in batch order: (1st, 2nd), (3rd, 4th), ..."""
    pairs = []
    for c in sorted(set(labels.tolist())):
        idx = [i for i, y in enumerate(labels.tolist()) if y == c]
        pairs += [(idx[k], idx[k + 1]) for k in range(0, len(idx) - 1, 2)]
    return pairs


def naive_npair(embeddings, labels, reg_lambda, cosine_temperature=None):
    """TensorFlow's npairs_loss (metric_loss_ops.py) in Python floats: softmax cross-entropy of
    each anchor's similarities to all positives against targets spread over the positives of its
    class, mean over anchors, plus 0.25 reg_lambda (mean ||a||^2 + mean ||p||^2)."""
    x = embeddings.double().tolist()
    pairs = naive_pairs(labels)
    lab = [int(labels[a]) for a, _ in pairs]
    dot = lambda u, v: sum(s * t for s, t in zip(u, v))  # noqa: E731

    def sim(u, v):
        if cosine_temperature is None:
            return dot(u, v)
        return dot(u, v) / math.sqrt(dot(u, u) * dot(v, v)) / cosine_temperature

    xent = []
    for i, (a, _) in enumerate(pairs):
        s = [sim(x[a], x[p]) for _, p in pairs]
        log_z = math.log(sum(math.exp(v) for v in s))
        same = [j for j in range(len(pairs)) if lab[j] == lab[i]]
        xent.append(sum(-(s[j] - log_z) / len(same) for j in same))
    reg_a = sum(dot(x[a], x[a]) for a, _ in pairs) / len(pairs)
    reg_p = sum(dot(x[p], x[p]) for _, p in pairs) / len(pairs)
    return sum(xent) / len(xent) + 0.25 * reg_lambda * (reg_a + reg_p)


def test_pairs_use_every_image_of_an_even_m_per_class_batch():
    labels = torch.tensor([2, 0, 1, 0, 2, 1, 0, 2, 0, 1, 2, 1])  # 3 classes x 4 images, shuffled
    a, p = pair_indices(labels)
    assert list(zip(a.tolist(), p.tolist())) == naive_pairs(labels)
    assert sorted(a.tolist() + p.tolist()) == list(range(12))  # two disjoint pairs per class
    odd = torch.tensor([0, 0, 0, 1, 1, 2])  # 3, 2 and 1 images: one pair each of 0 and 1
    assert list(zip(*(t.tolist() for t in pair_indices(odd)))) == [(0, 1), (3, 4)]


@pytest.mark.parametrize("reg", [0.002, 0.5])
def test_sohn_form_matches_tensorflows_npairs_loss(batch, reg):
    embeddings, labels = batch  # 4 classes x 4 images
    module = SPEC.build(SPEC.params(l2_reg=reg), NUM_CLASSES, EMBEDDING_DIM)
    value = module(embeddings, labels)
    assert value.item() == pytest.approx(naive_npair(embeddings.detach(), labels, reg), rel=1e-6)
    scaled = embeddings.detach() * 3  # raw inner products: the norm matters, unlike cosine
    assert module(scaled, labels).item() == pytest.approx(naive_npair(scaled, labels, reg), rel=1e-6)
    value.backward()
    assert torch.all(embeddings.grad.abs().sum(dim=1) > 0)  # every image enters the loss


def test_regulariser_is_the_references():
    """Two pairs, zero similarity logits except the norms: the penalty is 0.25 lambda (mean
    ||a||^2 + mean ||p||^2), half of lambda x mean ||f||^2 over the batch's embeddings."""
    e = torch.tensor([[3.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 1.0]])  # anchors on x, positives on y
    labels = torch.tensor([0, 0, 1, 1])  # pairs (0, 1) and (2, 3); every a_i . p_j = 0
    module = SPEC.build(SPEC.params(l2_reg=0.002), 2, 2)
    expected = math.log(2) + 0.25 * 0.002 * ((9 + 4) / 2 + (1 + 1) / 2)
    assert module(e, labels).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("t", [0.1, 0.5])
def test_cosine_form_and_its_temperature(batch, t):
    embeddings, labels = batch
    module = SPEC.build(SPEC.params(form="cosine", temperature=t, l2_reg=0.01), NUM_CLASSES, EMBEDDING_DIM)
    expected = naive_npair(embeddings.detach(), labels, 0.01, cosine_temperature=t)
    assert module(embeddings, labels).item() == pytest.approx(expected, rel=1e-6)
    assert module.loss.temperature == t and module.loss.form == "cosine"


def test_cosine_low_temperature_can_approach_zero():
    perfect = F.one_hot(torch.arange(NUM_CLASSES).repeat(2), EMBEDDING_DIM).float()
    labels = torch.arange(NUM_CLASSES).repeat(2)
    cold = SPEC.build(SPEC.params(form="cosine", temperature=0.1, l2_reg=0.0), NUM_CLASSES, EMBEDDING_DIM)
    warm = SPEC.build(SPEC.params(form="cosine", temperature=1.0, l2_reg=0.0), NUM_CLASSES, EMBEDDING_DIM)
    assert cold(perfect, labels).item() < 1e-3 < 0.5 < warm(perfect, labels).item()


def test_empty_and_no_pairs():
    module = SPEC.build(SPEC.params(), NUM_CLASSES, EMBEDDING_DIM)
    assert module(torch.zeros(0, EMBEDDING_DIM), torch.zeros(0, dtype=torch.long)).item() == 0.0
    singles = torch.randn(4, EMBEDDING_DIM, requires_grad=True)
    value = module(singles, torch.arange(4))  # one sample per class: no pair, no penalty
    assert value.item() == 0.0
    value.backward()
    assert torch.all(singles.grad == 0)


def test_params_and_no_dead_parameter_in_the_search_space():
    assert resolve_loss("npair") is SPEC and SPEC.family == "embedding"
    assert SPEC.params().form == "sohn" and SPEC.params().l2_reg == 0.002
    assert set(SPEC.search_space) == {"l2_reg"}  # the default form's parameter only
    for bad in [{"margin": 0.1}, {"temperature": 0.2}, {"form": "sohn", "temperature": 0.2}]:
        with pytest.raises(pydantic.ValidationError):
            SPEC.params(**bad)
    assert SPEC.params(form="cosine", temperature=0.2).temperature == 0.2


def test_lowers_its_own_value():
    before, after = train_steps(SPEC, steps=30)
    assert after < before


def test_a_resolved_sohn_setting_validates_again_and_a_real_temperature_is_refused():
    # A resolved setting lists every parameter at its value (the default temperature included)
    # and is validated again by tuning trials and reports; only a temperature that would be
    # ignored is refused under form sohn.
    resolved = SPEC.params().model_dump()
    assert resolved["form"] == "sohn" and SPEC.params(**resolved).temperature == resolved["temperature"]
    with pytest.raises(Exception, match="temperature applies to form cosine only"):
        SPEC.params(form="sohn", temperature=0.5)
