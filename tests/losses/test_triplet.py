"""The triplet loss: pml's TripletMarginLoss with the chosen miner, checked against a loop."""

from __future__ import annotations

import itertools

import pydantic
import pytest
import torch
import torch.nn.functional as F
from pytorch_metric_learning import miners

from modbench.losses import resolve_loss
from modbench.losses._common import MetricLoss
from modbench.losses.triplet import SPEC, TripletParams

from .conftest import EMBEDDING_DIM, NUM_CLASSES, clusters, train_steps


def naive_triplet(embeddings, labels, margin, keep):
    """Mean over triplets with a nonzero hinge, among those ``keep(d_ap, d_an)`` selects."""
    x = F.normalize(embeddings.double(), dim=1)
    values = []
    n = len(labels)
    for a, p, q in itertools.product(range(n), repeat=3):
        if a == p or labels[a] != labels[p] or labels[a] == labels[q]:
            continue
        d_ap = (x[a] - x[p]).norm().item()
        d_an = (x[a] - x[q]).norm().item()
        if keep(d_ap, d_an):
            values.append(max(d_ap - d_an + margin, 0.0))
    nonzero = [v for v in values if v > 0]
    return sum(nonzero) / len(nonzero) if nonzero else 0.0


@pytest.mark.parametrize(
    "miner,keep",
    [
        ("none", lambda d_ap, d_an: True),
        ("semihard", lambda d_ap, d_an: 0 < d_an - d_ap <= 0.3),
        ("hard", lambda d_ap, d_an: d_an - d_ap <= 0),
        ("all", lambda d_ap, d_an: d_an - d_ap <= 0.3),
    ],
)
def test_matches_naive_loop(miner, keep):
    torch.manual_seed(0)
    embeddings = torch.randn(12, 5, dtype=torch.float64)
    labels = torch.arange(3).repeat(4)
    module = SPEC.build(SPEC.params(margin=0.3, miner=miner), 3, 5)
    value = module(embeddings, labels)
    assert value.item() == pytest.approx(naive_triplet(embeddings, labels, 0.3, keep), rel=1e-6)


def test_batch_hard_miner_is_used():
    module = SPEC.build(SPEC.params(miner="batch-hard"), NUM_CLASSES, EMBEDDING_DIM)
    assert isinstance(module.miner, miners.BatchHardMiner)
    default = SPEC.build(SPEC.params(), NUM_CLASSES, EMBEDDING_DIM)
    assert isinstance(default.miner, miners.TripletMarginMiner)
    assert default.miner.type_of_triplets == "semihard" and default.miner.margin == 0.2


def test_batch_hard_matches_loop():
    torch.manual_seed(1)
    embeddings = torch.randn(12, 5, dtype=torch.float64)
    labels = torch.arange(3).repeat(4)
    module = SPEC.build(SPEC.params(margin=0.3, miner="batch-hard"), 3, 5)
    x = F.normalize(embeddings, dim=1)
    d = torch.cdist(x, x)
    same = labels[:, None] == labels[None, :]
    hinge = []
    for a in range(12):
        hardest_p = d[a][same[a] & (torch.arange(12) != a)].max()
        hardest_n = d[a][~same[a]].min()
        hinge.append(max((hardest_p - hardest_n + 0.3).item(), 0.0))
    nonzero = [h for h in hinge if h > 0]
    assert module(embeddings, labels).item() == pytest.approx(sum(nonzero) / len(nonzero))


def test_finite_gradients_and_empty_cases(batch):
    embeddings, labels = batch
    module = SPEC.build(SPEC.params(miner="none"), NUM_CLASSES, EMBEDDING_DIM)
    value = module(embeddings, labels)
    assert torch.isfinite(value) and value > 0
    value.backward()
    assert torch.isfinite(embeddings.grad).all() and embeddings.grad.abs().sum() > 0
    # Empty batch, and a batch with no valid triplet (one sample per class): zero, attached.
    for e, y in [(torch.zeros(0, EMBEDDING_DIM), torch.zeros(0, dtype=torch.long)),
                 (torch.randn(4, EMBEDDING_DIM), torch.arange(4))]:
        e.requires_grad_(True)
        value = module(e, y)
        assert value.item() == 0.0
        value.backward()
        assert (e.grad == 0).all()


def test_params():
    assert resolve_loss("triplet") is SPEC and SPEC.family == "embedding"
    assert SPEC.params() == TripletParams(margin=0.2, miner="semihard")
    assert isinstance(SPEC.build(SPEC.params(), NUM_CLASSES, EMBEDDING_DIM), MetricLoss)
    for bad in [{"margin": 0.0}, {"margin": 3.0}, {"miner": "random"}, {"swap": True}]:
        with pytest.raises(pydantic.ValidationError):
            SPEC.params(**bad)


@pytest.mark.parametrize("miner", ["semihard", "batch-hard", "none"])
def test_lowers_its_own_value(miner):
    before, after = train_steps(SPEC, {"margin": 0.2, "miner": miner}, steps=30)
    assert after < before
