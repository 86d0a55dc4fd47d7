"""The paper's loss (docs/losses.md) against independent computations of its formula."""

from __future__ import annotations

import math

import pydantic
import pytest
import torch
import torch.nn.functional as F

from modbench.losses import resolve_loss
from modbench.losses._common import WeightedSoftmaxLoss
from modbench.losses.improved import (
    SPEC,
    ImprovedParams,
    improved_cross_entropy,
)
from modbench.losses.improved import sample_weight

from .conftest import EMBEDDING_DIM, NUM_CLASSES, train_steps


def naive_improved(logits, target, beta, gamma):
    """Per-sample loop in float64 Python floats: -e^gamma * softmax(-beta z)[y] * log softmax(z)[y]."""
    out = []
    for z, y in zip(logits.tolist(), target.tolist()):
        p_y = math.exp(z[y]) / sum(math.exp(zc) for zc in z)
        w_y = math.exp(-beta * z[y]) / sum(math.exp(-beta * zc) for zc in z)
        out.append(-math.exp(gamma) * w_y * math.log(p_y))
    return torch.tensor(out, dtype=torch.float64)


def analytic_grad(logits, target, beta, gamma):
    """dL/dz_k = e^gamma * w * (beta * log p_y * (d_ky - q_k) - (d_ky - p_k)), q = softmax(-beta z).

    Derived by hand from the formula, with the gradient through both factors (paper, eq. 5).
    """
    p = torch.softmax(logits, 1)
    q = torch.softmax(-beta * logits, 1)
    onehot = F.one_hot(target, logits.shape[1]).to(logits.dtype)
    w = (q * onehot).sum(1, keepdim=True)
    log_p_y = (p * onehot).sum(1, keepdim=True).log()
    return math.exp(gamma) * w * (beta * log_p_y * (onehot - q) - (onehot - p))


@pytest.mark.parametrize("beta,gamma", [(4.0, 5.0), (4.0, 10.0), (2.0, 3.0), (0.5, -1.0)])
def test_matches_naive_loop(beta, gamma):
    g = torch.Generator().manual_seed(1)
    logits = 3 * torch.randn(12, 7, generator=g, dtype=torch.float64)
    target = torch.randint(0, 7, (12,), generator=g)
    expected = naive_improved(logits, target, beta, gamma)
    got = improved_cross_entropy(logits, target, beta, gamma, reduction="none")
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)
    # float32, the training dtype, within float32 accuracy.
    got32 = improved_cross_entropy(logits.float(), target, beta, gamma, reduction="none")
    torch.testing.assert_close(got32.double(), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(
        improved_cross_entropy(logits, target, beta, gamma), expected.mean(), rtol=1e-12, atol=0
    )
    torch.testing.assert_close(
        improved_cross_entropy(logits, target, beta, gamma, reduction="sum"),
        expected.sum(),
        rtol=1e-12,
        atol=0,
    )


def test_gradcheck_float64():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 4, (5,), generator=g)
    assert torch.autograd.gradcheck(
        lambda z: improved_cross_entropy(z, target, 4.0, 1.0, reduction="none"), (logits,)
    )
    assert torch.autograd.gradgradcheck(
        lambda z: improved_cross_entropy(z, target, 4.0, 1.0), (logits,)
    )


def test_gradient_flows_through_both_factors():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(6, 5, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 5, (6,), generator=g)
    improved_cross_entropy(logits, target, 4.0, 5.0, reduction="sum").backward()
    expected = analytic_grad(logits.detach(), target, 4.0, 5.0)
    torch.testing.assert_close(logits.grad, expected, rtol=1e-10, atol=1e-10)
    # A detached weight (gradient through log p only) gives a different gradient.
    w = sample_weight(logits.detach(), target, 4.0)
    detached = -math.exp(5.0) * w * F.log_softmax(logits, 1).gather(1, target[:, None]).squeeze(1)
    (detached_grad,) = torch.autograd.grad(detached.sum(), logits)
    assert not torch.allclose(detached_grad, logits.grad, rtol=1e-3, atol=1e-3)


def test_weight_small_when_right_large_when_wrong():
    beta = 4.0
    right = torch.tensor([[10.0, 0.0, 0.0, 0.0]])  # target 0, confidently right
    w_right = sample_weight(right, torch.tensor([0]), beta)
    assert w_right.item() < 1e-15
    # Confidently wrong: the target logit far below every other one.
    wrong = torch.tensor([[10.0, 0.0, 0.0, -10.0]])
    w_wrong = sample_weight(wrong, torch.tensor([3]), beta)
    assert w_wrong.item() > 1 - 1e-15
    # Two classes: a confident wrong prediction alone is enough.
    w_binary = sample_weight(torch.tensor([[8.0, -8.0]]), torch.tensor([1]), beta)
    assert w_binary.item() > 1 - 1e-15
    # The weight falls as the target logit rises.
    z = torch.zeros(5, 3)
    z[:, 0] = torch.tensor([-3.0, -1.0, 0.0, 1.0, 3.0])
    w = sample_weight(z, torch.zeros(5, dtype=torch.long), beta)
    assert torch.all(w[1:] < w[:-1])


@pytest.mark.parametrize("scale", [1e2, 1e3, 1e4])
@pytest.mark.parametrize("gamma", [5.0, 10.0])
def test_finite_for_huge_logits(scale, gamma):
    g = torch.Generator().manual_seed(4)
    logits = (scale * torch.randn(64, 10, generator=g)).clamp(-1e4, 1e4)
    logits[0] = torch.tensor([1e4] + [-1e4] * 9)  # confidently right: weight 0, log p 0
    logits[1] = torch.tensor([-1e4] + [1e4] * 9)  # confidently wrong: weight 1, log p -2e4-log 9
    logits.requires_grad_(True)
    target = torch.randint(0, 10, (64,), generator=g)
    target[:2] = 0
    losses = improved_cross_entropy(logits, target, 4.0, gamma, reduction="none")
    assert torch.isfinite(losses).all()
    assert losses[0].item() == 0.0
    assert losses[1].item() == pytest.approx(math.exp(gamma) * (2e4 + math.log(9)), rel=1e-6)
    losses.mean().backward()
    assert torch.isfinite(logits.grad).all()


def test_empty_batch():
    logits = torch.zeros(0, 5, requires_grad=True)
    target = torch.zeros(0, dtype=torch.long)
    mean = improved_cross_entropy(logits, target, 4.0, 5.0)
    assert mean.shape == () and mean.item() == 0.0
    mean.backward()
    assert logits.grad.shape == (0, 5)
    assert improved_cross_entropy(logits, target, 4.0, 5.0, reduction="sum").item() == 0.0
    assert improved_cross_entropy(logits, target, 4.0, 5.0, reduction="none").shape == (0,)


def test_shape_errors():
    with pytest.raises(ValueError, match="logits"):
        improved_cross_entropy(torch.zeros(3), torch.zeros(3, dtype=torch.long), 4.0, 5.0)
    with pytest.raises(ValueError, match="target"):
        improved_cross_entropy(torch.zeros(3, 2), torch.zeros(4, dtype=torch.long), 4.0, 5.0)
    with pytest.raises(ValueError, match="integer"):
        improved_cross_entropy(torch.zeros(3, 2), torch.zeros(3), 4.0, 5.0)
    with pytest.raises(ValueError, match="reduction"):
        improved_cross_entropy(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), 4, 5, "avg")


def test_module_uses_classifier_and_formula(batch):
    embeddings, labels = batch
    module = SPEC.build(SPEC.params(beta=3.0, gamma=2.0), NUM_CLASSES, EMBEDDING_DIM)
    assert isinstance(module, WeightedSoftmaxLoss) and SPEC.family == "softmax"
    assert module.classifier.in_features == EMBEDDING_DIM
    assert module.classifier.out_features == NUM_CLASSES
    assert set(module.param_groups()) == {"loss"}  # the classifier: suite optimizer, no decay
    value = module(embeddings, labels)
    logits = module.classifier(embeddings).double()
    expected = naive_improved(logits.detach(), labels, 3.0, 2.0).mean()
    torch.testing.assert_close(value.double(), expected, rtol=1e-5, atol=1e-6)
    value.backward()
    assert torch.isfinite(embeddings.grad).all() and embeddings.grad.abs().sum() > 0
    assert torch.isfinite(module.classifier.weight.grad).all()


def test_module_float32_under_autocast(batch):
    embeddings, labels = batch
    module = SPEC.build(SPEC.params(), NUM_CLASSES, EMBEDDING_DIM)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = module(embeddings, labels)
    assert value.dtype == torch.float32
    reference = module(embeddings, labels)
    # Only the classifier's matmul runs in bfloat16; the criterion itself is float32.
    torch.testing.assert_close(value, reference, rtol=5e-2, atol=0)


def test_module_empty_batch_and_shape_checks():
    module = SPEC.build(SPEC.params(), NUM_CLASSES, EMBEDDING_DIM)
    embeddings = torch.zeros(0, EMBEDDING_DIM, requires_grad=True)
    value = module(embeddings, torch.zeros(0, dtype=torch.long))
    assert value.item() == 0.0
    value.backward()
    assert module.classifier.weight.grad.abs().sum() == 0
    with pytest.raises(ValueError, match="embeddings"):
        module(torch.zeros(3, EMBEDDING_DIM + 1), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="labels"):
        module(torch.zeros(3, EMBEDDING_DIM), torch.zeros(2, dtype=torch.long))


def test_params_defaults_and_validation():
    assert SPEC.params() == ImprovedParams(beta=4.0, gamma=5.0)
    assert resolve_loss("improved") is SPEC
    assert SPEC.params(beta=4, gamma=10).gamma == 10.0  # YAML ints are fine
    for bad in [
        {"beta": 0},
        {"beta": -1.0},
        {"beta": float("inf")},
        {"gamma": 1000.0},
        {"gamma": float("nan")},
        {"beta": "4"},  # no silent string coercion
        {"beta": True},
        {"alpha": 1.0},  # unknown key
    ]:
        with pytest.raises(pydantic.ValidationError):
            SPEC.params(**bad)


def test_lowers_its_own_value():
    before, after = train_steps(SPEC, {"beta": 4.0, "gamma": 5.0}, steps=20)
    assert after < 0.5 * before
