"""Margin loss with distance-weighted sampling (Wu, Manmatha, Smola and Kraehenbuehl 2017,
"Sampling Matters in Deep Embedding Learning"), the paper's reference [5].

pytorch-metric-learning's ``MarginLoss`` on the L2-normalised embeddings::

    l(i, j) = max(0, margin + y_ij * (D_ij - beta))   y_ij = +1 same class, -1 otherwise

with a learnable boundary ``beta`` (initial value ``beta0``), fed by pml's
``DistanceWeightedMiner``: for each (anchor, positive) pair one negative is drawn with probability
proportional to the inverse of the density of distances between points on the unit sphere,
clipped below at ``cutoff`` and ignoring negatives farther than ``nonzero_loss_cutoff`` (they
would give a zero loss). Miner: ``DistanceWeightedMiner``, always (it is what the loss is).

Defaults are those of the paper's comparison (docs/losses.md) and of Wu et al.'s reference implementation
(apache/mxnet, example/gluon/embedding_learning/train.py): margin 0.2, beta0 1.2, nu 0 (no
penalty on beta), cutoff 0.5, nonzero_loss_cutoff 1.4, one beta per class. That code trains beta
with its own optimizer, ``gluon.Trainer(beta, 'sgd', {'learning_rate': opt.lr_beta,
'momentum': 0.9})`` (``--lr-beta`` 0.1, no weight decay), beside the network's Adam: so does
modbench (``param_groups()``, ``modbench/engine/optim.py``). Under Adam a learning rate of 0.1
would move every beta by ~0.1 on the first step, half the margin.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from modbench.losses.base import LossParams, register_loss

BETA_LR = 0.1  # Wu et al.'s --lr-beta default
BETA_MOMENTUM = 0.9  # Wu et al.'s trainer_beta


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
    beta_optimizer: Literal["sgd", "suite"] = Field(
        "sgd", description="sgd: Wu et al.'s own SGD for beta; suite: the suite's optimizer."
    )
    beta_lr: float | None = Field(
        BETA_LR,
        gt=0,
        allow_inf_nan=False,
        description="Learning rate of beta (Wu et al.: 0.1, with SGD); null = the suite's.",
    )
    beta_momentum: float = Field(
        BETA_MOMENTUM, ge=0, lt=1, allow_inf_nan=False, description="SGD momentum of beta."
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


@register_loss(
    "margin",
    family="embedding",
    params=MarginParams,
    description="Margin loss with distance-weighted sampling, beta learnt by its own SGD (Wu et al. 2017).",
    # Around Wu et al.'s values (margin 0.2, beta0 1.2), which Musgrave et al. 2020 also tune.
    search_space={"margin": {"low": 0.01, "high": 1.0, "log": True},
                  "beta0": {"low": 0.5, "high": 1.6}},
)
def build(params: MarginParams, num_classes: int, embedding_dim: int):
    from pytorch_metric_learning import losses, miners

    from modbench.losses._common import MetricLoss, check_sizes

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
    sgd = params.beta_optimizer == "sgd"
    groups = {
        "beta": {
            "prefix": "loss.beta",
            "optimizer": "sgd" if sgd else None,
            "lr": params.beta_lr,
            "momentum": params.beta_momentum if sgd else None,
            "weight_decay": params.weight_decay,
            "source": "Wu et al. 2017, reference code: SGD, lr 0.1, momentum 0.9, no decay",
        }
    }
    module = MetricLoss(
        loss,
        embedding_dim,
        miner,
        groups=groups,
        loss_scale=params.loss_scale,
        weight_decay=params.weight_decay,
        settings=f"margin: margin={params.margin}, beta0={params.beta0}, "
        f"beta={'learnt' if params.learn_beta else 'fixed'}",
    )
    return module
