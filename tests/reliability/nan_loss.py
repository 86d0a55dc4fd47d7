"""A TEST-ONLY loss that blows up on purpose (registered by test_nan_loss.py, never by modbench).

Cross-entropy that becomes non-finite at its ``nan_at``-th call: with ``mode: loss`` the loss
value is NaN; with ``mode: grad`` the loss stays finite (0) but its gradient is infinite
(d/dx sqrt(x) at 0). ``CALLS`` counts forward calls of every instance, so a test can tell
whether a run was trained at all.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from modbench.losses._common import SoftmaxLoss
from modbench.losses.base import LossParams, LossSpec

CALLS = {"n": 0}


class NanParams(LossParams):
    nan_at: int = Field(3, ge=1)
    mode: Literal["loss", "grad"] = "loss"


class BlowUp(SoftmaxLoss):
    def __init__(self, num_classes: int, embedding_dim: int, nan_at: int, mode: str):
        super().__init__(num_classes, embedding_dim)
        self.nan_at, self.mode, self.calls = nan_at, mode, 0

    def criterion(self, logits, labels):
        self.calls += 1
        CALLS["n"] += 1
        loss = F.cross_entropy(logits.float(), labels)
        if self.calls == self.nan_at:
            if self.mode == "loss":
                return loss * float("nan")
            return loss + torch.sqrt(logits.sum() * 0.0)  # value +0, gradient +inf
        return loss


SPEC = LossSpec(
    family="softmax",
    params=NanParams,
    build=lambda p, num_classes, embedding_dim: BlowUp(num_classes, embedding_dim, p.nan_at, p.mode),
)
