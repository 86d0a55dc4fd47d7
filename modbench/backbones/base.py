"""The contract between a backbone and the engine.

A backbone builder is ``build(*, in_channels, image_size, pretrained) -> nn.Module``; the module
maps a float batch [B, C, H, W] to features [B, out_features] and has an ``out_features``
attribute. The engine adds the embedding head (``Linear(out_features, embedding_dim)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    import torch
    from torch import nn

F = TypeVar("F", bound=Callable)


def register_backbone(name: str, *, description: str) -> Callable[[F], F]:
    """Marks a builder in a ``modbench/backbones/`` file as the backbone ``name``: the registry
    reads these decorators with ``ast`` (``name`` and ``description`` are string literals), so a
    new backbone is one file."""

    def decorate(build: F) -> F:
        build.backbone_name = name
        return build

    return decorate


class Backbone(Protocol):
    out_features: int

    def __call__(self, images: "torch.Tensor") -> "torch.Tensor": ...


class BackboneBuilder(Protocol):
    def __call__(self, *, in_channels: int, image_size: int, pretrained: bool) -> "nn.Module": ...
