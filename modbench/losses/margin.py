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

from pydantic import ConfigDict, Field, model_validator
from pytorch_metric_learning import losses, miners

from modbench.losses._common import MetricLoss, check_sizes
from modbench.losses.base import LossParams, LossSpec

# Wu et al.'s reference implementation trains the class-specific beta with its own optimizer,
# SGD (momentum 0.9) at learning rate 0.1 (--lr-beta, default 0.1), while the network uses Adam
# at 1e-4 (apache/mxnet, example/gluon/embedding_learning/train.py).
BETA_LR = 0.1


class MarginParams(LossParams):
    model_config = ConfigDict(strict=True)

    margin: float = Field(0.2, gt=0, le=2.0, allow_inf_nan=False, description="Margin alpha.")
    beta0: float = Field(
        1.2, gt=0, le=2.0, allow_inf_nan=False, description="Initial boundary beta."
    )
    learn_beta: bool = Field(True, description="Train beta with the model (Wu et al.: yes).")
    beta_per_class: bool = Field(
        True, description="One beta per class (Wu et al.'s beta^(class)) or a single one."
    )
    beta_lr: float | None = Field(
        BETA_LR,
        gt=0,
        allow_inf_nan=False,
        description="Own learning rate of beta (Wu et al.: 0.1, with SGD); null = the model's.",
    )
    nu: float = Field(0.0, ge=0, allow_inf_nan=False, description="Penalty nu * beta.")
    cutoff: float = Field(
        0.5, ge=0, lt=2.0, allow_inf_nan=False, description="Distances clipped below at this."
    )
    nonzero_loss_cutoff: float = Field(
        1.4, gt=0, le=2.0, allow_inf_nan=False, description="Negatives farther are not drawn."
    )

    @model_validator(mode="after")
    def _cutoffs_ordered(self):
        if self.cutoff >= self.nonzero_loss_cutoff:
            raise ValueError(
                f"cutoff ({self.cutoff}) must be below nonzero_loss_cutoff "
                f"({self.nonzero_loss_cutoff})"
            )
        return self


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
