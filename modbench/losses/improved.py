"""The paper's loss: Wen, Yang, Zhang and Zhang, "Improved Loss Function for Image
Classification" (2021), section 3, equation (4); DESIGN.md section 3.

For the logits z of one sample with target class y::

    L(z, y) = -exp(gamma) * softmax(-beta * z)[y] * log_softmax(z)[y]

The weight ``softmax(-beta z)[y]`` is close to 0 for a sample that is already classified well
(z_y much larger than the other logits) and close to 1 for one that is not; ``exp(gamma)``
scales every sample. The gradient flows through both factors, as in the paper's equation (5):
the weight is not detached.

Numerics: both factors come from ``log_softmax``, so they stay finite for logits of any size;
the weight is ``exp(log_softmax(-beta z)[y])``, never a ratio of exponentials. Everything is
computed in float32 at least, also under autocast.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor

from modbench.losses._common import (
    SoftmaxLoss,
    at_least_float32,
    check_logits_and_target,
    reduce,
)
from modbench.losses.base import LossSpec
from modbench.losses.params import ImprovedParams


def modulating_weight(logits: Tensor, target: Tensor, beta: float) -> Tensor:
    """``softmax(-beta * z)[y]`` per sample, shape [B], computed as exp of a log_softmax."""
    check_logits_and_target(logits, target)
    logits = at_least_float32(logits)
    log_w = F.log_softmax(-beta * logits, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
    return log_w.exp()


def improved_cross_entropy(
    logits: Tensor, target: Tensor, beta: float, gamma: float, reduction: str = "mean"
) -> Tensor:
    """The paper's loss of ``logits`` [B, C] against class indices ``target`` [B].

    ``reduction``: ``"mean"`` over the batch (0 for an empty batch), ``"sum"``, or ``"none"``
    (shape [B]).
    """
    check_logits_and_target(logits, target)
    logits = at_least_float32(logits)
    index = target.unsqueeze(1)
    log_p = F.log_softmax(logits, dim=1).gather(1, index).squeeze(1)  # log softmax(z)[y]
    weight = F.log_softmax(-beta * logits, dim=1).gather(1, index).squeeze(1).exp()
    losses = -math.exp(gamma) * weight * log_p
    return reduce(losses, reduction)


class ImprovedLoss(SoftmaxLoss):
    """The paper's loss on the logits of a ``Linear(embedding_dim, num_classes)`` classifier."""

    def __init__(self, num_classes: int, embedding_dim: int, beta: float = 4.0, gamma: float = 5.0):
        super().__init__(num_classes, embedding_dim)
        self.beta = float(beta)
        self.gamma = float(gamma)

    def criterion(self, logits: Tensor, labels: Tensor) -> Tensor:
        return improved_cross_entropy(logits, labels, self.beta, self.gamma)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, gamma={self.gamma}"


def _build(params: ImprovedParams, num_classes: int, embedding_dim: int) -> ImprovedLoss:
    return ImprovedLoss(num_classes, embedding_dim, beta=params.beta, gamma=params.gamma)


SPEC = LossSpec(family="softmax", params=ImprovedParams, build=_build)

__all__ = ["SPEC", "ImprovedLoss", "ImprovedParams", "improved_cross_entropy", "modulating_weight"]
