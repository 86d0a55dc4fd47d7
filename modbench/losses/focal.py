"""Multi-class focal loss (Lin et al. 2017, "Focal Loss for Dense Object Detection").

For the logits z of one sample with target class y and p = softmax(z)::

    FL(z, y) = -alpha_y * (1 - p_y)^gamma * log p_y

``gamma = 0`` (and no ``alpha``) is cross-entropy. ``alpha`` is optional: in a suite it is one
number that scales every sample (Lin et al.'s alpha-balanced form; under Adam a constant scale
barely matters). ``focal_loss`` also takes a [C] tensor of per-class weights; the suite parameter
does not, because a list in a suite's loss params means a sweep. The batch mean is a plain mean
over samples (not divided by the sum of the alphas).

Numerics: log p_y from ``log_softmax``; 1 - p_y as ``-expm1(log p_y)`` (exact near p_y = 1),
clamped at the smallest normal float so that (1 - p_y)^gamma has a finite gradient for
0 < gamma < 1 at p_y = 1. Float32 at least, also under autocast.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from modbench.losses._common import (
    SoftmaxLoss,
    at_least_float32,
    check_logits_and_target,
    reduce,
)
from modbench.losses.base import LossSpec
from modbench.losses.params import FocalParams


def focal_loss(
    logits: Tensor,
    target: Tensor,
    gamma: float = 2.0,
    alpha: float | Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Focal loss of ``logits`` [B, C] against ``target`` [B]; ``alpha`` a number or [C] tensor."""
    check_logits_and_target(logits, target)
    logits = at_least_float32(logits)
    log_p = F.log_softmax(logits, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
    one_minus_p = (-torch.expm1(log_p)).clamp_min(torch.finfo(log_p.dtype).tiny)
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


class FocalLoss(SoftmaxLoss):
    """Focal loss on the logits of a ``Linear(embedding_dim, num_classes)`` classifier."""

    def __init__(
        self, num_classes: int, embedding_dim: int, gamma: float = 2.0, alpha: float | None = None
    ):
        super().__init__(num_classes, embedding_dim)
        self.gamma = float(gamma)
        self.alpha = None if alpha is None else float(alpha)

    def criterion(self, logits: Tensor, labels: Tensor) -> Tensor:
        return focal_loss(logits, labels, self.gamma, self.alpha)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, alpha={self.alpha}"


def _build(params: FocalParams, num_classes: int, embedding_dim: int) -> FocalLoss:
    return FocalLoss(num_classes, embedding_dim, gamma=params.gamma, alpha=params.alpha)


SPEC = LossSpec(family="softmax", params=FocalParams, build=_build)
