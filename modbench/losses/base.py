"""The contract between a loss and the engine; torch-free (a suite is validated without torch).

A built-in loss is one file in ``modbench/losses/``: a strict pydantic parameter model, the pure
loss function, and a ``build`` function decorated with ``register_loss``::

    @register_loss("improved", family="softmax", params=ImprovedParams,
                   description="...", search_space={"beta": {"low": 2, "high": 16}})
    def build(params, num_classes, embedding_dim) -> nn.Module: ...

``register_loss`` stores the ``LossSpec`` as the module's ``SPEC``. The registry finds built-in
names by reading the files (``modbench/losses/__init__.py``), so listing them imports nothing.
Loss files import torch inside their functions only, so that ``resolve_loss(name).params`` (what
``modbench report`` and the suite checks use) stays torch-free (tests/losses/test_registry.py).

The module ``build`` returns:

- ``forward(embeddings, labels)`` gives a scalar loss, multiplied by ``params.loss_scale``;
- ``family == "softmax"``: it owns one ``Linear(embedding_dim, num_classes)`` as ``.classifier``
  and computes its criterion on the logits in float32 (docs/losses.md);
  ``family == "embedding"``: it sees the embeddings alone (pairs, triplets, proxies);
- optionally ``param_groups()`` -> ``{name: {"params", "optimizer", "lr", "weight_decay",
  "momentum"}}`` for its own learnable parameters (``modbench/engine/optim.py`` builds the
  optimizers from it; by default every loss parameter trains with the suite's optimizer and
  learning rate, without weight decay);
- optionally ``sample_weights(embeddings, labels) -> [B]`` (no grad) where the loss weights
  samples (improved, improved-sigmoid, focal).
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from torch import nn

Family = Literal["softmax", "embedding"]


class LossParams(BaseModel):
    """Base class of every loss's parameter model: strict, unknown keys refused.

    Two controls every loss has: ``loss_scale`` multiplies the loss, and so the
    gradient (the scale exp(gamma) gives the paper's loss, available to any baseline);
    ``weight_decay`` is the L2 decay of the loss's own parameters (classifier, proxies, beta),
    0 unless the suite says so.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    loss_scale: float = Field(
        1.0,
        gt=0,
        allow_inf_nan=False,
        description="Multiplies the loss (and its gradient); e.g. 148.41 = exp(5) as a control.",
    )
    weight_decay: float = Field(
        0.0,
        ge=0,
        allow_inf_nan=False,
        description="Weight decay of the loss's own parameters (classifier, proxies, beta).",
    )


_COMMON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_common.py")

SearchSpace = dict[str, dict[str, Any]]  # {param: {"low": x, "high": y, "log": bool}}


@dataclass(frozen=True)
class LossSpec:
    family: Family
    params: type[LossParams]
    build: Callable[[LossParams, int, int], nn.Module]
    name: str = ""
    description: str = ""
    # Hyperparameter ranges for tuning, {param: {low, high, log}} (docs/tuning.md).
    search_space: SearchSpace = field(default_factory=dict)
    # The files whose code defines the loss: part of a run's identity, so editing them retrains.
    source_files: tuple[str, ...] = ()


def check_search_space(params: type[LossParams], space: SearchSpace) -> SearchSpace:
    """``space`` with ``log`` filled in; ValueError for an unknown parameter or a bad range."""
    checked = {}
    for key, bounds in space.items():
        if key not in params.model_fields:
            raise ValueError(f"search space names '{key}', not a parameter of {params.__name__}")
        extra = set(bounds) - {"low", "high", "log"}
        if extra or not {"low", "high"} <= set(bounds):
            raise ValueError(f"search space of '{key}' needs low, high (and log), got {bounds}")
        low, high, log = bounds["low"], bounds["high"], bool(bounds.get("log", False))
        if not low < high or (log and low <= 0):
            raise ValueError(f"search space of '{key}': need low < high (and low > 0 if log)")
        checked[key] = {"low": low, "high": high, "log": log}
    return checked


def register_loss(
    name: str,
    *,
    family: Family,
    params: type[LossParams],
    description: str,
    search_space: SearchSpace | None = None,
):
    """Decorator of a loss file's ``build(params, num_classes, embedding_dim)``: makes its
    ``LossSpec`` and stores it as the module's ``SPEC`` (like timm's ``register_model``).

    ``name`` and ``description`` must be string literals: the registry reads them from the
    file without importing it.
    """

    def decorate(build: Callable[[LossParams, int, int], Any]):
        module = sys.modules[build.__module__]
        spec = LossSpec(
            family=family,
            params=params,
            build=build,
            name=name,
            description=description,
            search_space=check_search_space(params, search_space or {}),
            # The loss's file and the shared module code every built-in loss runs through.
            source_files=(inspect.getsourcefile(build) or module.__file__, _COMMON),
        )
        module.SPEC = spec
        build.spec = spec
        return build

    return decorate
