"""``improved-prob``: the paper's equation (1) with f = p_y, the softmax probability."""

from __future__ import annotations

import math

import pytest
import torch

from modbench.losses._common import WeightedSoftmaxLoss
from modbench.losses.improved_prob import SPEC, improved_prob_loss, log_odds, sample_weight
from modbench.losses.improved_sigmoid import improved_sigmoid_loss

from .conftest import EMBEDDING_DIM, NUM_CLASSES, train_steps


def naive(logits, target, beta, gamma):
    """From the definition in Python floats: p = softmax(z)[y], x = log(p / (1 - p)),
    L = -e^gamma f(-beta x) log f(x) with f = the logistic function, f(x) = p."""
    out = []
    for z, t in zip(logits.tolist(), target.tolist()):
        top = max(z)
        e = [math.exp(v - top) for v in z]
        p = e[t] / sum(e)
        x = math.log(p / (1 - p))
        f = lambda u: 1 / (1 + math.exp(-u))  # noqa: E731
        assert f(x) == pytest.approx(p, rel=1e-9)  # f(x) is p_y
        out.append(-math.exp(gamma) * f(-beta * x) * math.log(p))
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("beta,gamma", [(4.0, 5.0), (4.0, 10.0), (2.0, 3.0), (0.5, -1.0)])
def test_matches_naive_loop(beta, gamma):
    g = torch.Generator().manual_seed(1)
    logits = 2 * torch.randn(12, 7, generator=g, dtype=torch.float64)
    target = torch.randint(0, 7, (12,), generator=g)
    expected = naive(logits, target, beta, gamma)
    got = improved_prob_loss(logits, target, beta, gamma, reduction="none")
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=0)
    got32 = improved_prob_loss(logits.float(), target, beta, gamma, reduction="none")
    torch.testing.assert_close(got32.double(), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(improved_prob_loss(logits, target, beta, gamma), expected.mean())


def test_property_1_weight_follows_p_y():
    """Weight -> 1 for a badly classified sample, -> 0 for a well classified one, 1/2 at p_y =
    1/2; the misclassified example of docs/losses.md keeps a weight near 1."""
    target = torch.tensor([0, 0, 0, 0])
    logits = torch.tensor([[-10.0, 0, 0], [10.0, 0, 0], [math.log(2.0), 0, 0], [0.0, 1, -20]])
    w = sample_weight(logits, target, beta=4.0)
    assert w[0] > 0.999 and w[1] < 1e-15 and w[2] == pytest.approx(0.5)
    p = math.exp(0) / (1 + math.e + math.exp(-20))  # 0.27
    assert w[3].item() == pytest.approx(1 / (1 + (p / (1 - p)) ** 4), rel=1e-5) and w[3] > 0.9


def test_two_classes_is_the_sigmoid_readings_target_term():
    """With C = 2, p_y = sigmoid(z_y - z_other): the target class's term of improved-sigmoid
    on the logit difference."""
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(6, 2, generator=g, dtype=torch.float64)
    target = torch.randint(0, 2, (6,), generator=g)
    diff = logits.gather(1, target.unsqueeze(1)) - logits.gather(1, (1 - target).unsqueeze(1))
    torch.testing.assert_close(log_odds(logits, target), diff.squeeze(1))
    one_class = torch.cat([diff, torch.zeros_like(diff)], 1)  # the "other" column is dropped below
    expected = improved_sigmoid_loss(one_class[:, :1], torch.zeros(6, dtype=torch.long), 4.0, 5.0, "none")
    torch.testing.assert_close(improved_prob_loss(logits, target, 4.0, 5.0, "none"), expected)


def test_gradcheck_and_huge_logits():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 4, (5,), generator=g)
    assert torch.autograd.gradcheck(lambda z: improved_prob_loss(z, target, 4.0, 1.0, "none"), (logits,))
    big = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], requires_grad=True)
    value = improved_prob_loss(big, torch.tensor([0, 0]), 4.0, 5.0)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(big.grad).all()


def test_module_empty_batch_and_weights(batch):
    embeddings, labels = batch
    assert SPEC.family == "softmax" and SPEC.params().beta == 4.0 and SPEC.params().gamma == 5.0
    module = SPEC.build(SPEC.params(beta=3.0, gamma=2.0), NUM_CLASSES, EMBEDDING_DIM)
    assert isinstance(module, WeightedSoftmaxLoss)
    logits = module.classifier(embeddings)
    torch.testing.assert_close(module(embeddings, labels), improved_prob_loss(logits, labels, 3.0, 2.0))
    torch.testing.assert_close(module.sample_weights(embeddings, labels), sample_weight(logits, labels, 3.0))
    empty = torch.zeros(0, EMBEDDING_DIM, requires_grad=True)
    value = module(empty, torch.zeros(0, dtype=torch.long))
    value.backward()
    assert value.item() == 0.0 and torch.all(module.classifier.weight.grad == 0)


def test_lowers_its_own_value():
    before, after = train_steps(SPEC, {"gamma": 0.0})
    assert after < 0.5 * before
