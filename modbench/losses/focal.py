"""Multi-class focal loss (Lin et al. 2017, "Focal Loss for Dense Object Detection").

For the logits z of one sample with target class y and p = softmax(z)::

    FL(z, y) = -alpha_y * (1 - p_y)^gamma * log p_y

``gamma = 0`` (and no ``alpha``) is cross-entropy. ``alpha`` is optional: in a suite it is one
number that scales every sample (Lin et al.'s alpha-balanced form; under Adam a constant scale
barely matters). ``focal_loss`` also takes a [C] tensor of per-class weights; the suite parameter
does not, because a list in a suite's loss params means a sweep. The batch mean is a plain mean
over samples (not divided by the sum of the alphas). The per-sample weight (``sample_weight``)
is (1 - p_y)^gamma.

Numerics: log p_y from ``log_softmax``; 1 - p_y as ``-expm1(log p_y)`` (exact near p_y = 1),
clamped at the smallest normal float so that (1 - p_y)^gamma has a finite gradient for
0 < gamma < 1 at p_y = 1. Float32 at least, also under autocast.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from pydantic import ConfigDict, Field

from modbench.losses.base import LossParams, register_loss

# Imports inside functions here: torch and pytorch-metric-learning are imported when the loss is
# built: the registry lists and checks losses (and their parameters) without torch.

if TYPE_CHECKING:
    from torch import Tensor


class FocalParams(LossParams):
    model_config = ConfigDict(strict=True)

    gamma: float = Field(
        2.0,
        ge=0,
        allow_inf_nan=False,
        description="Focusing parameter; 0 is cross-entropy, Lin et al. use 2.",
    )
    alpha: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="Weight of every sample; null = 1."
    )


def _one_minus_p_and_log_p(logits: Tensor, target: Tensor):
    import torch
    import torch.nn.functional as F

    from modbench.losses._common import at_least_float32, check_logits_and_target

    check_logits_and_target(logits, target)
    logits = at_least_float32(logits)
    log_p = F.log_softmax(logits, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
    return (-torch.expm1(log_p)).clamp_min(torch.finfo(log_p.dtype).tiny), log_p


def sample_weight(logits: Tensor, target: Tensor, gamma: float = 2.0) -> Tensor:
    """(1 - p_y)^gamma per sample, shape [B]."""
    one_minus_p, _ = _one_minus_p_and_log_p(logits, target)
    return one_minus_p.pow(gamma)


def focal_loss(
    logits: Tensor,
    target: Tensor,
    gamma: float = 2.0,
    alpha: float | Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Focal loss of ``logits`` [B, C] against ``target`` [B]; ``alpha`` a number or [C] tensor."""
    import torch

    from modbench.losses._common import reduce

    one_minus_p, log_p = _one_minus_p_and_log_p(logits, target)
    losses = -one_minus_p.pow(gamma) * log_p
    if alpha is not None:
        if torch.is_tensor(alpha):
            if alpha.shape != (logits.shape[1],):
                raise ValueError(
                    f"alpha must have shape [C] = [{logits.shape[1]}], got {tuple(alpha.shape)}"
                )
            alpha = alpha.to(losses)[target]
        losses = alpha * losses
    return reduce(losses, reduction)


@register_loss(
    "focal",
    family="softmax",
    params=FocalParams,
    description="Multi-class focal loss, -(1 - p_y)^gamma log p_y.",
    # Lin et al. 2017, Table 1a: gamma in [0, 5].
    search_space={"gamma": {"low": 0.0, "high": 5.0}},
)
def build(params: FocalParams, num_classes: int, embedding_dim: int):
    from modbench.losses._common import WeightedSoftmaxLoss

    return WeightedSoftmaxLoss(
        num_classes,
        embedding_dim,
        functools.partial(focal_loss, gamma=params.gamma, alpha=params.alpha),
        functools.partial(sample_weight, gamma=params.gamma),
        loss_scale=params.loss_scale,
        weight_decay=params.weight_decay,
        settings=f"focal: gamma={params.gamma}, alpha={params.alpha}",
    )
