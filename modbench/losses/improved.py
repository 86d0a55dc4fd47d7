"""The paper's loss: Wen, Yang, Zhang and Zhang, "Improved Loss Function for Image
Classification" (2021), section 3, equation (4); docs/losses.md.

For the logits z of one sample with target class y::

    L(z, y) = -exp(gamma) * softmax(-beta * z)[y] * log_softmax(z)[y]

The weight ``softmax(-beta z)[y]`` is close to 0 for a sample that is already classified well
(z_y much larger than the other logits) and close to 1 for one that is not; ``exp(gamma)``
scales every sample. The gradient flows through both factors, as in the paper's equation (5):
the weight is not detached.

With more than two classes the weight is set by the *lowest* logit, not by p_y: for
z = [0, 1, -20] and target 0, p_y = 0.27 yet the weight is 1.8e-35 (a misclassified sample all
but ignored). ``improved-sigmoid`` is the other, one-vs-rest reading (docs/losses.md).

Numerics: both factors come from ``log_softmax``, so they stay finite for logits of any size;
the weight is ``exp(log_softmax(-beta z)[y])``, never a ratio of exponentials. Everything is
computed in float32 at least, also under autocast. torch is imported inside the functions so
that this file (and its parameter model) imports without torch.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

from pydantic import ConfigDict, Field

from modbench.losses.base import LossParams, register_loss

# Imports inside functions here: torch and pytorch-metric-learning are imported when the loss is
# built: the registry lists and checks losses (and their parameters) without torch.

if TYPE_CHECKING:
    from torch import Tensor


class ImprovedParams(LossParams):
    model_config = ConfigDict(strict=True)

    beta: float = Field(
        4.0,
        gt=0,
        allow_inf_nan=False,
        description="Sharpness of the weight softmax(-beta z)[y]; the paper uses 4.",
    )
    # exp(40) ~ 2.4e17 keeps loss values (<= exp(gamma) * ~1e4) far from float32's 3.4e38.
    gamma: float = Field(
        5.0,
        ge=-20,
        le=40,
        allow_inf_nan=False,
        description="Log of the scale exp(gamma); the paper uses 5 (CIFAR), 10 (Fashion-MNIST).",
    )


def sample_weight(logits: Tensor, target: Tensor, beta: float) -> Tensor:
    """``softmax(-beta * z)[y]`` per sample, shape [B], computed as exp of a log_softmax."""
    import torch.nn.functional as F

    from modbench.losses._common import at_least_float32, check_logits_and_target

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
    import torch.nn.functional as F

    from modbench.losses._common import at_least_float32, check_logits_and_target, reduce

    check_logits_and_target(logits, target)
    logits = at_least_float32(logits)
    index = target.unsqueeze(1)
    log_p = F.log_softmax(logits, dim=1).gather(1, index).squeeze(1)  # log softmax(z)[y]
    weight = F.log_softmax(-beta * logits, dim=1).gather(1, index).squeeze(1).exp()
    losses = -math.exp(gamma) * weight * log_p
    return reduce(losses, reduction)


@register_loss(
    "improved",
    family="softmax",
    params=ImprovedParams,
    description="The paper's softmax-modulated cross-entropy, exp(gamma) * softmax(-beta z)[y] * CE (eq. 4).",
    # The paper's own ranges (its Figures 1-4 and the bisection of its section 4).
    search_space={"beta": {"low": 2, "high": 16}, "gamma": {"low": 2, "high": 21}},
)
def build(params: ImprovedParams, num_classes: int, embedding_dim: int):
    from modbench.losses._common import WeightedSoftmaxLoss

    return WeightedSoftmaxLoss(
        num_classes,
        embedding_dim,
        functools.partial(improved_cross_entropy, beta=params.beta, gamma=params.gamma),
        functools.partial(sample_weight, beta=params.beta),
        loss_scale=params.loss_scale,
        weight_decay=params.weight_decay,
        settings=f"improved: beta={params.beta}, gamma={params.gamma}",
    )


__all__ = ["SPEC", "ImprovedParams", "build", "improved_cross_entropy", "sample_weight"]
