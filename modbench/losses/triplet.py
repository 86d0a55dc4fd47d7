"""Triplet margin loss (Hoffer and Ailon 2015; the paper's reference [6]) with a miner.

pytorch-metric-learning's ``TripletMarginLoss`` on the L2-normalised embeddings (Euclidean
distance), averaged over the triplets with a nonzero loss. Margin 0.2 by default: FaceNet's
alpha = 0.2 (Schroff et al. 2015) and the triplet baseline of Wu et al. 2017; pml's own default
is 0.05.

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

from typing import Literal

from pydantic import ConfigDict, Field

from modbench.losses.base import LossParams, register_loss

MinerName = Literal["semihard", "hard", "all", "batch-hard", "none"]


class TripletParams(LossParams):
    model_config = ConfigDict(strict=True)

    margin: float = Field(
        0.2,
        gt=0,
        le=2.0,  # distances of unit vectors lie in [0, 2]
        allow_inf_nan=False,
        description="Required gap d(a, n) - d(a, p); 0.2 as in FaceNet and Wu et al. 2017.",
    )
    miner: MinerName = Field("semihard", description="Which triplets the loss sees.")


def make_miner(name: MinerName, margin: float):
    from pytorch_metric_learning import miners

    if name in ("semihard", "hard", "all"):
        return miners.TripletMarginMiner(margin=margin, type_of_triplets=name)
    if name == "batch-hard":
        return miners.BatchHardMiner()
    if name == "none":
        return None
    raise ValueError(f"unknown triplet miner {name!r}")


@register_loss(
    "triplet",
    family="embedding",
    params=TripletParams,
    description="Triplet margin loss (pytorch-metric-learning), margin 0.2, semi-hard miner.",
    # "A Metric Learning Reality Check" (Musgrave et al. 2020) tunes the margin; distances of
    # unit vectors lie in [0, 2] and the useful margins well below 1 (FaceNet, Wu et al.: 0.2).
    search_space={"margin": {"low": 0.01, "high": 1.0, "log": True}},
)
def build(params: TripletParams, num_classes: int, embedding_dim: int):
    from pytorch_metric_learning import losses

    from modbench.losses._common import MetricLoss, check_sizes

    check_sizes(num_classes, embedding_dim)
    module = MetricLoss(
        losses.TripletMarginLoss(margin=params.margin),
        embedding_dim,
        make_miner(params.miner, params.margin),
        loss_scale=params.loss_scale,
        weight_decay=params.weight_decay,
        settings=f"triplet: margin={params.margin}, miner={params.miner!r}",
    )
    module.margin, module.miner_name = params.margin, params.miner
    return module
