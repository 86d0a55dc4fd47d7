"""Triplet margin loss (Hoffer and Ailon 2015; the paper's reference [6]) with a miner.

pytorch-metric-learning's ``TripletMarginLoss`` on the L2-normalised embeddings (Euclidean
distance), averaged over the triplets with a nonzero loss.

Miner: by default pml's ``TripletMarginMiner(type_of_triplets="semihard")`` with the loss's own
margin, i.e. the semi-hard negatives of FaceNet (Schroff et al. 2015): d(a, p) < d(a, n) <=
d(a, p) + margin. The paper does not say which triplets its baseline used; semi-hard mining is
the common choice and the one Wu et al. (2017) compare margin loss against. Other choices:

- ``hard``: ``TripletMarginMiner(type_of_triplets="hard")``, d(a, n) <= d(a, p);
- ``all``: ``TripletMarginMiner(type_of_triplets="all")``, every triplet violating the margin;
- ``batch-hard``: ``BatchHardMiner`` (Hermans et al. 2017), the hardest positive and negative
  of each anchor in the batch;
- ``none``: no miner, every (a, p, n) triplet of the batch.

Triplets need at least two samples of a class in the batch: use an m-per-class sampler.
"""

from __future__ import annotations

from pytorch_metric_learning import losses, miners

from modbench.losses._common import MetricLoss, check_sizes
from modbench.losses.base import LossSpec
from modbench.losses.params import MinerName, TripletParams

def make_miner(name: MinerName, margin: float):
    if name in ("semihard", "hard", "all"):
        return miners.TripletMarginMiner(margin=margin, type_of_triplets=name)
    if name == "batch-hard":
        return miners.BatchHardMiner()
    if name == "none":
        return None
    raise ValueError(f"unknown triplet miner {name!r}")


class TripletLoss(MetricLoss):
    """pml ``TripletMarginLoss`` fed by the chosen miner (semi-hard by default)."""

    def __init__(self, embedding_dim: int, margin: float = 0.05, miner: MinerName = "semihard"):
        super().__init__(
            losses.TripletMarginLoss(margin=margin), embedding_dim, make_miner(miner, margin)
        )
        self.margin = margin
        self.miner_name = miner

    def extra_repr(self) -> str:
        return f"margin={self.margin}, miner={self.miner_name!r}"


def _build(params: TripletParams, num_classes: int, embedding_dim: int) -> TripletLoss:
    check_sizes(num_classes, embedding_dim)
    return TripletLoss(embedding_dim, margin=params.margin, miner=params.miner)


SPEC = LossSpec(family="embedding", params=TripletParams, build=_build)
