"""The paper's equation (1) applied to the softmax probability of the target class: a control
reading of Wen et al. 2021 that keeps its property (1) with a softmax classifier.

Equation (1) is ``L(x) = -f(-beta x) e^gamma log f(x)`` with f(x) the probability of the true
outcome (equation 2), and equation (6) writes that probability as a sigmoid of a signed logit,
``p_n = sigmoid(x_t)``. Take the true outcome to be "the sample is of class y" with the
probability the softmax gives it, ``f(x) = p_y = softmax(z)[y]``. Then ``x`` is the log-odds of
that outcome::

    x = logit(p_y) = log(p_y / (1 - p_y)) = z_y - logsumexp_{c != y} z_c

and ``f(-beta x) = sigmoid(-beta x)``, so for the logits z of one sample with target class y::

    L(z, y) = -exp(gamma) * sigmoid(-beta * x) * log softmax(z)[y]

The paper's property (1) holds for this weight: p_y -> 0 (x -> -inf) gives weight -> 1 and
p_y -> 1 gives weight -> 0, set by how well the sample is classified (unlike equation (4),
``improved``, whose weight the lowest logit sets). With two classes it is ``improved-sigmoid``'s
term of the target class. The gradient flows through both factors, as in equation (5).

Numerics: x from two logsumexps (finite for logits of any size), the weight as
exp(logsigmoid(-beta x)); float32 at least. With a single class x = +inf, the weight 0 and the
loss 0. torch is imported inside the functions (torch-free import).
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


def log_odds(logits: Tensor, target: Tensor) -> Tensor:
    """x = logit(p_y) = z_y - logsumexp_{c != y} z_c, shape [B]."""
    import torch

    from modbench.losses._common import at_least_float32, check_logits_and_target

    check_logits_and_target(logits, target)
    logits = at_least_float32(logits)
    index = target.unsqueeze(1)
    others = logits.scatter(1, index, float("-inf"))  # the target's logit left out
    return logits.gather(1, index).squeeze(1) - torch.logsumexp(others, dim=1)


def sample_weight(logits: Tensor, target: Tensor, beta: float) -> Tensor:
    """sigmoid(-beta logit(p_y)) per sample, shape [B]."""
    import torch.nn.functional as F

    return F.logsigmoid(-beta * log_odds(logits, target)).exp()


def improved_prob_loss(
    logits: Tensor, target: Tensor, beta: float, gamma: float, reduction: str = "mean"
) -> Tensor:
    """-exp(gamma) sigmoid(-beta logit(p_y)) log p_y per sample, reduced by ``reduction``
    (``mean``: 0 for an empty batch)."""
    import torch.nn.functional as F

    from modbench.losses._common import at_least_float32, reduce

    weight = sample_weight(logits, target, beta)
    log_p = F.log_softmax(at_least_float32(logits), dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
    return reduce(-math.exp(gamma) * weight * log_p, reduction)


@register_loss(
    "improved-prob",
    family="softmax",
    params=ImprovedParams,
    description="Control: the paper's eq. (1) on the softmax probability, sigmoid(-beta logit p_y) weight.",
    search_space={"beta": {"low": 2, "high": 16}, "gamma": {"low": 2, "high": 21}},
)
def build(params: ImprovedParams, num_classes: int, embedding_dim: int):
    from modbench.losses._common import WeightedSoftmaxLoss

    return WeightedSoftmaxLoss(
        num_classes,
        embedding_dim,
        functools.partial(improved_prob_loss, beta=params.beta, gamma=params.gamma),
        functools.partial(sample_weight, beta=params.beta),
        loss_scale=params.loss_scale,
        weight_decay=params.weight_decay,
        settings=f"improved-prob: beta={params.beta}, gamma={params.gamma}",
    )
