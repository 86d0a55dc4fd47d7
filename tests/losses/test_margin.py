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
        beta_rescale_grad="batch_size",
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


def wu_beta_gradient(embeddings, labels, triplets, beta, margin):
    """dL/dbeta_c of Wu et al.'s MarginLoss (apache/mxnet example/gluon/embedding_learning/
    model.py, lines 217-229), by hand in Python floats: the loss is
    sum_t [relu(d_ap - beta + margin) + relu(beta - d_an + margin)] / pair_cnt, pair_cnt the
    number of nonzero terms (held fixed, as Gluon's asscalar() does), so each nonzero positive
    term adds -1 / pair_cnt to its anchor class's beta, each nonzero negative term +1 / pair_cnt."""
    x = F.normalize(embeddings.double(), dim=1)
    grad = [0.0] * len(beta)
    terms = []
    for a, p, n in zip(*(t.tolist() for t in triplets)):
        c = int(labels[a])
        b = float(beta[c])
        pos = (x[a] - x[p]).norm().item() - b + margin
        neg = b - (x[a] - x[n]).norm().item() + margin
        terms.append((c, pos > 0, neg > 0))
    pair_cnt = sum(int(p) + int(n) for _, p, n in terms)
    for c, pos, neg in terms:
        grad[c] += (-float(pos) + float(neg)) / pair_cnt
    return grad


def test_beta_steps_as_wu_et_al_code():
    """Two steps of beta both ways: by hand as Wu et al.'s code takes them (Gluon's
    trainer_beta.step(batch_size): gradient times 1/batch_size, then MXNet's SGD with momentum,
    mom = 0.9 mom - lr g; beta += mom), and with modbench's optimizers (engine/optim.py)."""
    from torch import nn

    from modbench.engine.optim import Optimizers, build_optimizers

    x, y = clusters(per_class=4)  # B = 16
    torch.manual_seed(0)
    model = nn.Linear(x.shape[1], EMBEDDING_DIM)
    module = SPEC.build(SPEC.params(), NUM_CLASSES, EMBEDDING_DIM)
    with torch.no_grad():
        module.loss.beta.copy_(torch.tensor([0.9, 1.0, 1.1, 1.2]))
    train = {"optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0, "betas": [0.9, 0.999]}
    optimizers, groups = build_optimizers(model, module, train)
    optimizer = Optimizers(optimizers)
    (beta_group,) = [g for g in groups if g["group"] == "beta"]
    assert (beta_group["optimizer"], beta_group["lr"], beta_group["momentum"]) == ("sgd", 0.1, 0.9)
    beta_ref, mom = [0.9, 1.0, 1.1, 1.2], [0.0] * NUM_CLASSES
    for step in range(2):
        with torch.no_grad():
            embeddings = model(x)
        torch.manual_seed(10 + step)
        triplets = module.miner(embeddings, y)
        assert len(triplets[0]) > 0
        grad = wu_beta_gradient(embeddings, y, triplets, beta_ref, 0.2)
        assert any(abs(g) > 0 for g in grad)
        batch_size = len(y)
        for c in range(NUM_CLASSES):  # MXNet SGD with rescale_grad = 1 / batch_size
            mom[c] = 0.9 * mom[c] - 0.1 * (grad[c] / batch_size)
            beta_ref[c] += mom[c]
        optimizer.zero_grad()
        torch.manual_seed(10 + step)  # the same draw of negatives
        module(model(x), y).backward()
        optimizer.step()
        torch.testing.assert_close(
            module.loss.beta.detach().double(), torch.tensor(beta_ref, dtype=torch.float64),
            rtol=0, atol=1e-6,
        )
    # Without the rescaling, the step is batch_size times larger (what modbench did before).
    plain = SPEC.build(SPEC.params(beta_rescale_grad="none"), NUM_CLASSES, EMBEDDING_DIM)
    rescaled = SPEC.build(SPEC.params(), NUM_CLASSES, EMBEDDING_DIM)
    e = torch.randn(16, EMBEDDING_DIM, generator=torch.Generator().manual_seed(7))
    grads = []
    for m in (plain, rescaled):
        torch.manual_seed(3)
        m(e, y).backward()
        grads.append(m.loss.beta.grad.clone())
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[1], grads[0] / 16)


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
