"""N-pair loss (Sohn 2016, "Improved Deep Metric Learning with Multi-class N-pair Loss
Objective"), the paper's reference [24], as pytorch-metric-learning's ``NPairsLoss``.

From each class present in the batch pml takes one (anchor, positive) pair; each anchor is
classified among all positives by softmax over their similarities. Similarity: pml's default
``DotProductSimilarity`` of L2-normalised embeddings (cosine), so Sohn's L2 penalty on the
embedding norm is not needed. No miner (the pairs are the mining). Needs at least two samples of
a class in the batch: use an m-per-class sampler.
"""

from __future__ import annotations

from pytorch_metric_learning import losses

from modbench.losses._common import MetricLoss, check_sizes
from modbench.losses.base import LossSpec
from modbench.losses.params import NPairParams


class NPairLoss(MetricLoss):
    def __init__(self, embedding_dim: int):
        super().__init__(losses.NPairsLoss(), embedding_dim)


def _build(params: NPairParams, num_classes: int, embedding_dim: int) -> NPairLoss:
    check_sizes(num_classes, embedding_dim)
    return NPairLoss(embedding_dim)


SPEC = LossSpec(family="embedding", params=NPairParams, build=_build)
