"""The paper's loss, one-vs-rest sigmoid reading: Wen et al. 2021, equations (1), (2), (6)-(8).

Equation (1) is ``L(x) = -f(-beta x) e^gamma log f(x)`` with f the probability of the true
outcome of a *binary* decision (equation 2: p if y = 1, 1 - p otherwise), and equations (6)-(8)
write it with ``x_t = y x``, ``y in {+1, -1}`` and ``p_n = sigmoid(x_t)``. Read one-vs-rest over
the C classes (as sigmoid losses are, e.g. Lin et al.'s focal loss), for logits z of one sample
with target class t::

    y_c = +1 if c == t else -1,   x_c = y_c z_c
    L(z, t) = sum_c -exp(gamma) * sigmoid(-beta x_c) * log sigmoid(x_c)

Each class's weight ``sigmoid(-beta x_c)`` depends on that class's own logit only, so a
misclassified sample keeps a weight near 1 on the classes it gets wrong (unlike equation (4),
``improved``, whose weight the lowest logit sets). The gradient flows through both factors.

``sample_weight`` (what the engine logs) is the weight of the target class, sigmoid(-beta z_t).

Numerics: ``logsigmoid`` for both factors (weight = exp(logsigmoid(-beta x))), finite for logits
of any size; float32 at least. torch is imported inside the functions (torch-free import).
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

from modbench.losses.base import register_loss
from modbench.losses.improved import ImprovedParams

# Imports inside functions here: torch and pytorch-metric-learning are imported when the loss is
# built: the registry lists and checks losses (and their parameters) without torch.

if TYPE_CHECKING:
    from torch import Tensor


def signed_logits(logits: Tensor, target: Tensor) -> Tensor:
    """x_c = y_c z_c with y_c = +1 for the target class, -1 for the others; shape [B, C]."""
    import torch.nn.functional as F

    from modbench.losses._common import at_least_float32, check_logits_and_target

    check_logits_and_target(logits, target)
    logits = at_least_float32(logits)
    y = 2 * F.one_hot(target, logits.shape[1]).to(logits.dtype) - 1
    return y * logits


def sample_weight(logits: Tensor, target: Tensor, beta: float) -> Tensor:
    """sigmoid(-beta z_t), the weight of the target class, shape [B]."""
    import torch.nn.functional as F

    x = signed_logits(logits, target)
    return F.logsigmoid(-beta * x.gather(1, target.unsqueeze(1)).squeeze(1)).exp()


def improved_sigmoid_loss(
    logits: Tensor, target: Tensor, beta: float, gamma: float, reduction: str = "mean"
) -> Tensor:
    """The one-vs-rest sigmoid form of the paper's loss, summed over classes, per sample [B]
    reduced by ``reduction`` (``mean``: 0 for an empty batch)."""
    import torch.nn.functional as F

    from modbench.losses._common import reduce

    x = signed_logits(logits, target)
    weight = F.logsigmoid(-beta * x).exp()
    losses = (-math.exp(gamma) * weight * F.logsigmoid(x)).sum(dim=1)
    return reduce(losses, reduction)


@register_loss(
    "improved-sigmoid",
    family="softmax",
    params=ImprovedParams,
    description="The paper's loss, one-vs-rest sigmoid reading of eqs. (1), (2), (6)-(8).",
    search_space={"beta": {"low": 2, "high": 16}, "gamma": {"low": 2, "high": 21}},
)
def build(params: ImprovedParams, num_classes: int, embedding_dim: int):
    from modbench.losses._common import WeightedSoftmaxLoss

    return WeightedSoftmaxLoss(
        num_classes,
        embedding_dim,
        functools.partial(improved_sigmoid_loss, beta=params.beta, gamma=params.gamma),
        functools.partial(sample_weight, beta=params.beta),
        loss_scale=params.loss_scale,
        weight_decay=params.weight_decay,
        settings=f"improved-sigmoid: beta={params.beta}, gamma={params.gamma}",
    )
