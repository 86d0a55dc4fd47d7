"""Softmax cross-entropy on the classifier's logits, with optional label smoothing.

The baseline the paper's loss modifies: ``-log_softmax(z)[y]``, through ``torch``'s own
``F.cross_entropy`` (float32 logits, mean over the batch, 0 for an empty batch). With
``loss_scale: 148.41`` (exp(5)) it is the control for the paper's exp(gamma) (docs/losses.md).
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


class CrossEntropyParams(LossParams):
    model_config = ConfigDict(strict=True)

    label_smoothing: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="Mass spread uniformly over all classes (Szegedy et al. 2016); 0 = none.",
    )


def cross_entropy(logits: Tensor, labels: Tensor, label_smoothing: float = 0.0) -> Tensor:
    import torch.nn.functional as F

    from modbench.losses._common import at_least_float32, check_logits_and_target

    check_logits_and_target(logits, labels)
    return F.cross_entropy(at_least_float32(logits), labels, label_smoothing=label_smoothing)


@register_loss(
    "cross-entropy",
    family="softmax",
    params=CrossEntropyParams,
    description="Softmax cross-entropy, optional label smoothing.",
    search_space={"label_smoothing": {"low": 0.0, "high": 0.3}},
)
def build(params: CrossEntropyParams, num_classes: int, embedding_dim: int):
    from modbench.losses._common import SoftmaxLoss

    return SoftmaxLoss(
        num_classes,
        embedding_dim,
        functools.partial(cross_entropy, label_smoothing=params.label_smoothing),
        loss_scale=params.loss_scale,
        weight_decay=params.weight_decay,
        settings=f"cross-entropy: label_smoothing={params.label_smoothing}",
    )
