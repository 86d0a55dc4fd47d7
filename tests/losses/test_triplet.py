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

from .conftest import EMBEDDING_DIM, NUM_CLASSES, train_steps


def sq(x, i, j):
    return ((x[i] - x[j]) ** 2).sum().item()


def naive_triplet(embeddings, labels, margin, keep, squared=True):
    """FaceNet's loss by hand: mean over the triplets ``keep(d_ap, d_an)`` selects of
    max(d_ap - d_an + margin, 0), d the squared (or plain) distance of the normalised embeddings."""
    x = F.normalize(embeddings.double(), dim=1)
    values = []
    n = len(labels)
    for a, p, q in itertools.product(range(n), repeat=3):
        if a == p or labels[a] != labels[p] or labels[a] == labels[q]:
            continue
        d_ap, d_an = sq(x, a, p), sq(x, a, q)
        if not squared:
            d_ap, d_an = d_ap ** 0.5, d_an ** 0.5
        if keep(d_ap, d_an):
            values.append(max(d_ap - d_an + margin, 0.0))
    return sum(values) / len(values) if values else 0.0


WINDOWS = {
    "none": lambda d_ap, d_an: True,
    "semihard": lambda d_ap, d_an: 0 < d_an - d_ap <= 0.3,
    "hard": lambda d_ap, d_an: d_an - d_ap <= 0,
    "all": lambda d_ap, d_an: d_an - d_ap <= 0.3,
}


@pytest.mark.parametrize("miner", list(WINDOWS))
@pytest.mark.parametrize("distance", ["squared-l2", "l2"])
def test_negatives_all_matches_naive_loop(miner, distance):
    torch.manual_seed(0)
    embeddings = torch.randn(12, 5, dtype=torch.float64)
    labels = torch.arange(3).repeat(4)
    module = SPEC.build(SPEC.params(margin=0.3, miner=miner, negatives="all", distance=distance), 3, 5)
    value = module(embeddings, labels)
    expected = naive_triplet(embeddings, labels, 0.3, WINDOWS[miner], squared=distance == "squared-l2")
    assert expected > 0 and value.item() == pytest.approx(expected, rel=1e-6)


def test_facenet_default_is_squared_distance_and_one_semihard_negative_per_pair():
    """The default: FaceNet's window on squared distances, every anchor-positive pair with a
    negative in it, one negative each, drawn at random among the pair's window negatives."""
    assert SPEC.params() == TripletParams(margin=0.2, miner="semihard", negatives="one-per-pair",
                                          distance="squared-l2")
    torch.manual_seed(0)
    embeddings = torch.randn(16, 5, dtype=torch.float64)
    labels = torch.arange(4).repeat(4)
    x = F.normalize(embeddings, dim=1)
    margin = 0.5
    module = SPEC.build(SPEC.params(margin=margin), 4, 5)
    window = {}
    for a, p, q in itertools.product(range(16), repeat=3):
        if a != p and labels[a] == labels[p] and labels[a] != labels[q]:
            if 0 < sq(x, a, q) - sq(x, a, p) <= margin:
                window.setdefault((a, p), set()).add(q)
    assert len(window) > 4 and any(len(v) > 1 for v in window.values())
    drawn = {}
    for seed in range(30):
        torch.manual_seed(seed)
        a, p, q = module.miner(embeddings, labels)
        pairs = list(zip(a.tolist(), p.tolist()))
        assert sorted(pairs) == sorted(window)  # every pair once
        for pair, neg in zip(pairs, q.tolist()):
            assert neg in window[pair]
            drawn.setdefault(pair, set()).add(neg)
        torch.manual_seed(seed)
        value = module(embeddings, labels)
        hinge = [max(sq(x, i, j) - sq(x, i, k) + margin, 0.0) for i, j, k in zip(a.tolist(), p.tolist(), q.tolist())]
        assert value.item() == pytest.approx(sum(hinge) / len(hinge), rel=1e-9)
    assert drawn == window  # over 30 draws every window negative was chosen


def test_squared_margin_reaches_loss_and_miner():
    module = SPEC.build(SPEC.params(), NUM_CLASSES, EMBEDDING_DIM)
    for d in (module.loss.distance, module.miner.window.distance):
        assert d.power == 2 and d.normalize_embeddings
        torch.testing.assert_close(d(torch.eye(2), torch.eye(2)), 2 * (1 - torch.eye(2)))
    assert module.loss.margin == 0.2 and module.miner.window.margin == 0.2
    assert module.miner.window.type_of_triplets == "semihard"
    plain = SPEC.build(SPEC.params(negatives="all", distance="l2"), NUM_CLASSES, EMBEDDING_DIM)
    assert isinstance(plain.miner, miners.TripletMarginMiner) and plain.miner.distance.power == 1


def test_batch_hard_miner_is_used():
    module = SPEC.build(SPEC.params(miner="batch-hard"), NUM_CLASSES, EMBEDDING_DIM)
    assert isinstance(module.miner, miners.BatchHardMiner)
    assert module.miner.distance.power == 2


def test_batch_hard_matches_loop():
    torch.manual_seed(1)
    embeddings = torch.randn(12, 5, dtype=torch.float64)
    labels = torch.arange(3).repeat(4)
    module = SPEC.build(SPEC.params(margin=0.3, miner="batch-hard"), 3, 5)
    x = F.normalize(embeddings, dim=1)
    d = torch.cdist(x, x) ** 2
    same = labels[:, None] == labels[None, :]
    hinge = []
    for a in range(12):
        hardest_p = d[a][same[a] & (torch.arange(12) != a)].max()
        hardest_n = d[a][~same[a]].min()
        hinge.append(max((hardest_p - hardest_n + 0.3).item(), 0.0))
    assert module(embeddings, labels).item() == pytest.approx(sum(hinge) / len(hinge))


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
    assert isinstance(SPEC.build(SPEC.params(), NUM_CLASSES, EMBEDDING_DIM), MetricLoss)
    for bad in [{"margin": 0.0}, {"margin": 4.5}, {"miner": "random"}, {"swap": True},
                {"negatives": "some"}, {"distance": "cosine"},
                {"miner": "batch-hard", "negatives": "all"}]:
        with pytest.raises(pydantic.ValidationError):
            SPEC.params(**bad)


@pytest.mark.parametrize("miner", ["semihard", "batch-hard", "none", "all"])
def test_lowers_its_own_value(miner):
    before, after = train_steps(SPEC, {"margin": 0.2, "miner": miner}, steps=30)
    assert after < before
