"""The contract between a loss and the engine.

A loss is registered with a ``LossSpec``: its family, a strict pydantic model of its parameters
(defaults filled in, unknown keys refused), and ``build(params, num_classes, embedding_dim)``
returning an ``nn.Module`` whose ``forward(embeddings, labels)`` gives a scalar loss.

- ``family == "softmax"``: the module owns one ``Linear(embedding_dim, num_classes)`` classifier
  and computes its criterion on the logits, in float32 (DESIGN.md sections 1 and 3).
- ``family == "embedding"``: the module sees the embeddings alone (pairs, triplets, proxies).

Learnable loss parameters (classifier, proxies, the margin's beta) are trained with the model. A
module may set ``param_lr`` (float) to give them their own learning rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # torch-free at run time: parameter models are read without torch (params.py)
    from torch import nn


class LossParams(BaseModel):
    """Base class of every loss's parameter model: strict, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class LossSpec:
    family: Literal["softmax", "embedding"]
    params: type[LossParams]
    build: Callable[[LossParams, int, int], nn.Module]
