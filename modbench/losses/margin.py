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

That code steps beta with ``trainer_beta.step(batch_size)``, and Gluon's ``Trainer.step(n)``
multiplies the gradient by 1/n (``rescale_grad``) before the SGD update, on top of the division
by the number of nonzero pair terms inside its ``MarginLoss`` (pml's ``MarginLoss`` divides the
same way). So beta's effective learning rate is 0.1 / batch_size, with momentum 0.9. modbench
does the same (``beta_rescale_grad: batch_size``, the default): beta's gradient is divided by the
number of embeddings the loss sees in the forward pass (with several processes an embedding
loss sees the gathered global batch, the reference's ``batch_size``). The reference
(apache/mxnet at 514408edaf147cf866e9bcb12f4ce89efc070e4e, example/gluon/embedding_learning/):
``train.py`` lines 54 (``--lr-beta``), 187-188 (``trainer_beta``), 232 (``step``);
``model.py`` lines 217-229 (the loss and its division by ``pair_cnt``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from modbench.losses.base import LossParams, register_loss

# Imports inside functions here: torch and pytorch-metric-learning are imported when the loss is
# built: the registry lists and checks losses (and their parameters) without torch.

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
    beta_rescale_grad: Literal["batch_size", "none"] = Field(
        "batch_size",
        description="batch_size: beta's gradient over the batch size, as Gluon's "
        "trainer_beta.step(batch_size) in Wu et al.'s code; none: not rescaled.",
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
    description="Margin loss with distance-weighted sampling, beta learnt by its own SGD as in Wu et al.'s code.",
    # Around Wu et al.'s values (margin 0.2, beta0 1.2), which Musgrave et al. 2020 also tune.
    search_space={"margin": {"low": 0.01, "high": 1.0, "log": True},
                  "beta0": {"low": 0.5, "high": 1.6}},
)
def build(params: MarginParams, num_classes: int, embedding_dim: int):
    from pytorch_metric_learning import losses, miners

    from modbench.losses._common import check_sizes

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
            "source": "Wu et al. 2017, reference code: SGD, lr 0.1, momentum 0.9, no decay"
            + (", gradient / batch size (Gluon step(batch_size))" if params.beta_rescale_grad == "batch_size" else ""),
        }
    }
    module = _margin_module(params.beta_rescale_grad == "batch_size")(
        loss,
        embedding_dim,
        miner,
        groups=groups,
        loss_scale=params.loss_scale,
        weight_decay=params.weight_decay,
        settings=f"margin: margin={params.margin}, beta0={params.beta0}, "
        f"beta={'learnt' if params.learn_beta else 'fixed'}"
        + (", beta grad / batch size" if params.learn_beta and params.beta_rescale_grad == "batch_size" else ""),
    )
    return module


def _margin_module(rescale_beta_grad: bool):
    """``MetricLoss``, or (``rescale_beta_grad``) a ``MetricLoss`` whose forward divides the
    gradient of a learnt beta by the batch size, as Gluon's ``Trainer.step(batch_size)`` does
    for Wu et al.'s beta. A class made here so that this file imports without torch.

    The hook is registered on every forward (the previous one removed), so it always sits on
    the parameter object the loss uses, whatever ``.to()`` or a checkpoint load did to it.
    """
    from modbench.losses._common import MetricLoss

    if not rescale_beta_grad:
        return MetricLoss

    class BetaPerBatchMarginLoss(MetricLoss):
        _hook = None

        def forward(self, embeddings, labels):
            import torch

            beta = getattr(self.loss, "beta", None)
            if self._hook is not None:
                self._hook.remove()
                self._hook = None
            if isinstance(beta, torch.nn.Parameter) and beta.requires_grad:
                batch_size = max(int(embeddings.shape[0]), 1)
                self._hook = beta.register_hook(lambda grad: grad / batch_size)
            return super().forward(embeddings, labels)

    return BetaPerBatchMarginLoss
