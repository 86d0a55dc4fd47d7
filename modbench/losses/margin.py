"""Margin loss with distance-weighted sampling (Wu, Manmatha, Smola and Kraehenbuehl 2017,
"Sampling Matters in Deep Embedding Learning"), the paper's reference [5].

pytorch-metric-learning's ``MarginLoss`` on the L2-normalised embeddings::

    l(i, j) = max(0, margin + y_ij * (D_ij - beta))   y_ij = +1 same class, -1 otherwise

with a learnable boundary ``beta`` (initial value ``beta0``), fed by pml's
``DistanceWeightedMiner``: for each (anchor, positive) pair one negative is drawn with probability
proportional to the inverse of the density of distances between points on the unit sphere,
clipped below at ``cutoff`` and ignoring negatives farther than ``nonzero_loss_cutoff`` (they
would give a zero loss). Miner: ``DistanceWeightedMiner``, always (it is what the loss is).

Defaults are those of DESIGN.md section 4 and of Wu et al.'s reference implementation
(apache/mxnet, example/gluon/embedding_learning/train.py): margin 0.2, beta0 1.2, nu 0 (no
penalty on beta), cutoff 0.5, nonzero_loss_cutoff 1.4, one beta per class.
"""

from __future__ import annotations

from pytorch_metric_learning import losses, miners

from modbench.losses._common import MetricLoss, check_sizes
from modbench.losses.base import LossSpec
from modbench.losses.params import BETA_LR, MarginParams  # noqa: F401 (BETA_LR: API)

class MarginLoss(MetricLoss):
    """pml ``MarginLoss`` with a learnable beta, fed by pml's ``DistanceWeightedMiner``."""

    def __init__(self, num_classes: int, embedding_dim: int, params: MarginParams):
        check_sizes(num_classes, embedding_dim)
        loss = losses.MarginLoss(
            margin=params.margin,
            nu=params.nu,
            beta=params.beta0,
            learn_beta=params.learn_beta,
            num_classes=num_classes if params.beta_per_class else None,
        )
        miner = miners.DistanceWeightedMiner(
            cutoff=params.cutoff, nonzero_loss_cutoff=params.nonzero_loss_cutoff
        )
        super().__init__(loss, embedding_dim, miner)
        # beta is an nn.Parameter of self.loss when learned, so it trains with the model.
        self.param_lr = params.beta_lr if params.learn_beta else None

    @property
    def beta(self):
        return self.loss.beta


def _build(params: MarginParams, num_classes: int, embedding_dim: int) -> MarginLoss:
    return MarginLoss(num_classes, embedding_dim, params)


SPEC = LossSpec(family="embedding", params=MarginParams, build=_build)
