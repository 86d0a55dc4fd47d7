"""One-vs-rest binary cross-entropy on the classifier's logits: the control of the sigmoid
reading of the paper's loss (``improved-sigmoid``) without its weight.

For the logits z of one sample with target class t::

    y_c = +1 if c == t else -1,   x_c = y_c z_c
    L(z, t) = sum_c -log sigmoid(x_c)

This is ``improved-sigmoid`` with the weight sigmoid(-beta x_c) replaced by 1 and gamma = 0:
the same one-vs-rest decomposition (equation (2) of Wen et al. 2021 for each class), the same
sum over classes and mean over the batch (0 for an empty batch), and the same ``loss_scale``
(``loss_scale: 148.41`` gives it the paper's exp(5)). So ``improved-sigmoid`` against ``bce``
isolates the paper's weighting; ``bce`` against ``cross-entropy`` isolates the change from a
softmax to per-class sigmoids.

Note the reduction: ``torch.nn.functional.binary_cross_entropy_with_logits`` with its default
``mean`` divides by B x C, not B; here the classes are summed, as in ``improved-sigmoid``.
torch is imported inside the functions (torch-free import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ConfigDict

from modbench.losses.base import LossParams, register_loss

# Imports inside functions here: torch and pytorch-metric-learning are imported when the loss is
# built: the registry lists and checks losses (and their parameters) without torch.

if TYPE_CHECKING:
    from torch import Tensor


class BCEParams(LossParams):
    """No parameters of its own: ``loss_scale`` and ``weight_decay`` only."""

    model_config = ConfigDict(strict=True)


def one_vs_rest_bce(logits: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """sum_c -log sigmoid(y_c z_c) per sample, reduced by ``reduction`` (``mean``: 0 for an empty
    batch). ``binary_cross_entropy_with_logits`` (stable for logits of any size) per element,
    summed over classes."""
    import torch.nn.functional as F

    from modbench.losses._common import at_least_float32, check_logits_and_target, reduce

    check_logits_and_target(logits, target)
    logits = at_least_float32(logits)
    one_hot = F.one_hot(target, logits.shape[1]).to(logits.dtype)
    per_class = F.binary_cross_entropy_with_logits(logits, one_hot, reduction="none")
    return reduce(per_class.sum(dim=1), reduction)


@register_loss(
    "bce",
    family="softmax",
    params=BCEParams,
    description="Control: one-vs-rest binary cross-entropy, the sigmoid reading without its weight.",
)
def build(params: BCEParams, num_classes: int, embedding_dim: int):
    from modbench.losses._common import SoftmaxLoss

    return SoftmaxLoss(
        num_classes,
        embedding_dim,
        one_vs_rest_bce,
        loss_scale=params.loss_scale,
        weight_decay=params.weight_decay,
        settings="bce: one-vs-rest",
    )
