"""Margin loss with distance-weighted sampling: pml's MarginLoss + DistanceWeightedMiner."""

from __future__ import annotations

import pydantic
import pytest
import torch
import torch.nn.functional as F
from pytorch_metric_learning import miners

from modbench.losses import resolve_loss
from modbench.losses.margin import BETA_LR, SPEC, MarginParams

from .conftest import EMBEDDING_DIM, NUM_CLASSES, clusters, train_steps


def naive_margin(embeddings, labels, triplets, beta, margin):
    """Sum of the nonzero hinge terms over the number of nonzero terms (pml's DivisorReducer)."""
    x = F.normalize(embeddings.double(), dim=1)
    terms = []
    for a, p, n in zip(*(t.tolist() for t in triplets)):
        b = beta[labels[a]].item() if beta.numel() > 1 else beta.item()
        terms.append(max((x[a] - x[p]).norm().item() - b + margin, 0.0))
        terms.append(max(b - (x[a] - x[n]).norm().item() + margin, 0.0))
    nonzero = [t for t in terms if t > 0]
    return sum(nonzero) / len(nonzero) if nonzero else 0.0


def test_defaults_are_wu_et_al():
    params = SPEC.params()
    assert params == MarginParams(
        margin=0.2, beta0=1.2, learn_beta=True, beta_per_class=True, beta_optimizer="sgd",
        beta_lr=0.1, beta_momentum=0.9, nu=0.0, cutoff=0.5, nonzero_loss_cutoff=1.4,
    )
    module = SPEC.build(params, NUM_CLASSES, EMBEDDING_DIM)
    assert isinstance(module.miner, miners.DistanceWeightedMiner)
    assert (module.miner.cutoff, module.miner.nonzero_loss_cutoff) == (0.5, 1.4)
    assert isinstance(module.loss.beta, torch.nn.Parameter)
    assert module.loss.beta.shape == (NUM_CLASSES,) and torch.all(module.loss.beta == 1.2)
    assert any(p is module.loss.beta for p in module.parameters())  # trains with the model
    (beta_group,) = module.param_groups().values()
    assert beta_group["lr"] == BETA_LR == 0.1 and beta_group["optimizer"] == "sgd"
    single = SPEC.build(SPEC.params(beta_per_class=False), NUM_CLASSES, EMBEDDING_DIM)
    assert single.loss.beta.shape == (1,)
    fixed = SPEC.build(SPEC.params(learn_beta=False), NUM_CLASSES, EMBEDDING_DIM)
    assert fixed.param_groups() == {} and not list(fixed.parameters())


def test_matches_naive_on_the_mined_triplets():
    x, y = clusters(per_class=6)
    embeddings = torch.randn(len(y), EMBEDDING_DIM, generator=torch.Generator().manual_seed(3))
    module = SPEC.build(SPEC.params(), NUM_CLASSES, EMBEDDING_DIM)
    with torch.no_grad():
        module.loss.beta.copy_(torch.tensor([0.9, 1.0, 1.1, 1.2]))
    torch.manual_seed(0)
    triplets = module.miner(embeddings, y)
    torch.manual_seed(0)
    value = module(embeddings, y)
    assert len(triplets[0]) > 0
    expected = naive_margin(embeddings, y, triplets, module.loss.beta.detach(), 0.2)
    assert value.item() == pytest.approx(expected, rel=1e-5)


def test_miner_draws_valid_negatives_within_cutoff():
    _, y = clusters(per_class=8)
    embeddings = torch.randn(len(y), 32, generator=torch.Generator().manual_seed(4))
    module = SPEC.build(SPEC.params(), NUM_CLASSES, 32)
    torch.manual_seed(0)
    a, p, n = module.miner(embeddings, y)
    x = F.normalize(embeddings, dim=1)
    assert len(a) > 0
    assert torch.all(y[a] == y[p]) and torch.all(a != p) and torch.all(y[a] != y[n])
    assert torch.all((x[a] - x[n]).norm(dim=1) < 1.4 + 1e-6)


def test_beta_gets_gradient_and_empty_batch(batch):
    embeddings, labels = batch
    module = SPEC.build(SPEC.params(), NUM_CLASSES, EMBEDDING_DIM)
    torch.manual_seed(0)
    value = module(embeddings, labels)
    assert torch.isfinite(value) and value > 0
    value.backward()
    assert torch.isfinite(module.loss.beta.grad).all() and module.loss.beta.grad.abs().sum() > 0
    assert torch.isfinite(embeddings.grad).all()
    empty = torch.zeros(0, EMBEDDING_DIM, requires_grad=True)
    assert module(empty, torch.zeros(0, dtype=torch.long)).item() == 0.0
    one_class = torch.randn(4, EMBEDDING_DIM, requires_grad=True)
    value = module(one_class, torch.zeros(4, dtype=torch.long))  # no negatives at all
    assert value.item() == 0.0
    value.backward()


def test_params():
    assert resolve_loss("margin") is SPEC and SPEC.family == "embedding"
    assert SPEC.params(beta_lr=None).beta_lr is None
    for bad in [{"margin": 0.0}, {"beta0": -1.0}, {"cutoff": 1.5, "nonzero_loss_cutoff": 1.4},
                {"nonzero_loss_cutoff": 3.0}, {"beta_lr": 0.0}, {"nu": -0.1}, {"beta": 1.2}]:
        with pytest.raises(pydantic.ValidationError):
            SPEC.params(**bad)


def test_lowers_its_own_value():
    before, after = train_steps(SPEC, steps=30)
    assert after < 0.5 * before
