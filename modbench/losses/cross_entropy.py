"""Softmax cross-entropy on the classifier's logits, with optional label smoothing.

The baseline the paper's loss modifies: ``-log_softmax(z)[y]``, through ``torch``'s own
``F.cross_entropy`` (float32 logits, mean over the batch, 0 for an empty batch).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from modbench.losses._common import SoftmaxLoss, at_least_float32, check_logits_and_target
from modbench.losses.base import LossSpec
from modbench.losses.params import CrossEntropyParams


class CrossEntropyLoss(SoftmaxLoss):
    """Cross-entropy on the logits of a ``Linear(embedding_dim, num_classes)`` classifier."""

    def __init__(self, num_classes: int, embedding_dim: int, label_smoothing: float = 0.0):
        super().__init__(num_classes, embedding_dim)
        self.label_smoothing = float(label_smoothing)

    def criterion(self, logits: Tensor, labels: Tensor) -> Tensor:
        check_logits_and_target(logits, labels)
        return F.cross_entropy(
            at_least_float32(logits), labels, label_smoothing=self.label_smoothing
        )

    def extra_repr(self) -> str:
        return f"label_smoothing={self.label_smoothing}"


def _build(params: CrossEntropyParams, num_classes: int, embedding_dim: int) -> CrossEntropyLoss:
    return CrossEntropyLoss(num_classes, embedding_dim, label_smoothing=params.label_smoothing)


SPEC = LossSpec(family="softmax", params=CrossEntropyParams, build=_build)
