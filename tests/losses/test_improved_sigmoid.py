"""The one-vs-rest sigmoid reading of the paper's loss (eqs. 1, 2, 6-8) against independent
computations, and the degenerate weight of equation (4) that motivates it."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from modbench.losses import resolve_loss
from modbench.losses._common import WeightedSoftmaxLoss
from modbench.losses.improved import sample_weight as improved_weight
from modbench.losses.improved_sigmoid import SPEC, improved_sigmoid_loss, sample_weight

from .conftest import EMBEDDING_DIM, NUM_CLASSES, train_steps


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def naive(logits, target, beta, gamma):
    """Loop over samples and classes in Python floats: sum_c -e^gamma s(-beta x_c) log s(x_c)."""
    out = []
    for z, t in zip(logits.tolist(), target.tolist()):
        total = 0.0
        for c, zc in enumerate(z):
            x = zc if c == t else -zc
            total += -math.exp(gamma) * sigmoid(-beta * x) * math.log(sigmoid(x))
        out.append(total)
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("beta,gamma", [(4.0, 5.0), (4.0, 10.0), (2.0, 3.0), (0.5, -1.0)])
def test_matches_naive_loop(beta, gamma):
    g = torch.Generator().manual_seed(1)
    logits = 3 * torch.randn(12, 7, generator=g, dtype=torch.float64)
    target = torch.randint(0, 7, (12,), generator=g)
    expected = naive(logits, target, beta, gamma)
    got = improved_sigmoid_loss(logits, target, beta, gamma, reduction="none")
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)
    got32 = improved_sigmoid_loss(logits.float(), target, beta, gamma, reduction="none")
    torch.testing.assert_close(got32.double(), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(improved_sigmoid_loss(logits, target, beta, gamma), expected.mean())


def test_gradcheck_float64():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 4, (5,), generator=g)
    assert torch.autograd.gradcheck(
        lambda z: improved_sigmoid_loss(z, target, 4.0, 1.0, reduction="none"), (logits,)
    )
    assert torch.autograd.gradgradcheck(lambda z: improved_sigmoid_loss(z, target, 4.0, 1.0), (logits,))


def hand_gradient(logits, target, beta, gamma):
    """dL/dz_c = y_c e^gamma [beta s(-b x)(1 - s(-b x)) log p - s(-b x)(1 - p)], p = s(x_c),
    derived by hand from the formula (gradient through both factors)."""
    y = 2 * F.one_hot(target, logits.shape[1]).to(logits.dtype) - 1
    x = y * logits
    p, w = torch.sigmoid(x), torch.sigmoid(-beta * x)
    return y * math.exp(gamma) * (beta * w * (1 - w) * torch.log(p) - w * (1 - p))


def paper_equation_8(logits, target, gamma):
    """The paper's equation (8): dL/dx = e^gamma y p_n (p_n - 1)(log p_n + 1), p_n = s(y x)."""
    y = 2 * F.one_hot(target, logits.shape[1]).to(logits.dtype) - 1
    p = torch.sigmoid(y * logits)
    return math.exp(gamma) * y * p * (p - 1) * (torch.log(p) + 1)


def test_gradient_against_the_hand_derivation_and_equation_8():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(6, 5, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 5, (6,), generator=g)
    for beta in (1.0, 4.0):
        (grad,) = torch.autograd.grad(improved_sigmoid_loss(logits, target, beta, 5.0, "sum"), logits)
        torch.testing.assert_close(grad, hand_gradient(logits.detach(), target, beta, 5.0))
    # Equation (8) as printed is the gradient of -e^gamma s(x_t) log s(x_t), i.e. of equation
    # (1) with beta = -1 (docs/losses.md): it matches there and nowhere with beta > 0.
    (grad,) = torch.autograd.grad(improved_sigmoid_loss(logits, target, -1.0, 5.0, "sum"), logits)
    torch.testing.assert_close(grad, paper_equation_8(logits.detach(), target, 5.0))
    (grad4,) = torch.autograd.grad(improved_sigmoid_loss(logits, target, 4.0, 5.0, "sum"), logits)
    assert not torch.allclose(grad4, paper_equation_8(logits.detach(), target, 5.0), atol=1e-3)


def test_finite_for_huge_logits():
    logits = torch.tensor([[1e4, -1e4, -1e4], [-1e4, 1e4, 1e4]], requires_grad=True)
    target = torch.tensor([0, 0])
    losses = improved_sigmoid_loss(logits, target, 4.0, 10.0, reduction="none")
    assert torch.isfinite(losses).all() and losses[0].item() == 0.0
    # Sample 1 is wrong on all three classes: weight 1 each, -log s(-1e4) = 1e4 each.
    assert losses[1].item() == pytest.approx(math.exp(10.0) * 3e4, rel=1e-6)
    losses.sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_equation_4_weight_is_degenerate_the_sigmoid_one_is_not():
    """z = [0, 1, -20], target 0: p_y = 0.27 yet eq. (4)'s weight is 1.8e-35."""
    z, t = torch.tensor([[0.0, 1.0, -20.0]]), torch.tensor([0])
    p_y = torch.softmax(z, 1)[0, 0].item()
    assert p_y == pytest.approx(0.2689, abs=1e-4)  # misclassified: class 1 has the top logit
    w4 = improved_weight(z, t, beta=4.0).item()
    assert w4 == pytest.approx(1.8e-35, rel=0.01)
    assert w4 == pytest.approx(math.exp(-80) / (1 + math.exp(-84) + math.exp(-80)), rel=1e-5)
    # The sigmoid reading weighs the target class by s(-beta z_t) = s(0) = 0.5.
    assert sample_weight(z, t, beta=4.0).item() == pytest.approx(0.5)


def test_module_weights_and_classifier(batch):
    embeddings, labels = batch
    module = SPEC.build(SPEC.params(beta=3.0, gamma=2.0), NUM_CLASSES, EMBEDDING_DIM)
    assert isinstance(module, WeightedSoftmaxLoss) and SPEC.family == "softmax"
    assert resolve_loss("improved-sigmoid") is SPEC
    logits = module.classifier(embeddings).double()
    expected = naive(logits.detach(), labels, 3.0, 2.0).mean()
    torch.testing.assert_close(module(embeddings, labels).double(), expected, rtol=1e-5, atol=1e-6)
    weights = module.sample_weights(embeddings, labels)
    assert weights.shape == (len(labels),) and not weights.requires_grad
    z_t = logits.detach().gather(1, labels[:, None]).squeeze(1)
    torch.testing.assert_close(weights.double(), torch.sigmoid(-3.0 * z_t), rtol=1e-5, atol=1e-7)


def test_lowers_its_own_value():
    before, after = train_steps(SPEC, {"gamma": 0.0}, steps=30)
    assert after < 0.5 * before
