"""The contract between a backbone and the engine.

A backbone builder is ``build(*, in_channels, image_size, pretrained) -> nn.Module``; the module
maps a float batch [B, C, H, W] to features [B, out_features] and has an ``out_features``
attribute. The engine adds the embedding head (``Linear(out_features, embedding_dim)``).

A builder that loads a weights file itself also takes ``weights`` (a ``WeightsFile``, or None:
``weights_file.py``; read it with ``_pretrained.file_state_dict``); for one that does not, the
engine loads the file into the whole module, checked by name and shape. A module whose weights
expect inputs normalised otherwise than with the dataset's mean and std has ``input_mean`` and
``input_std`` (per RGB channel, in units of [0, 1]: ``_pretrained.set_input_stats``), and gets
them (engine/model.py; a grey image repeated to three channels).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    import torch
    from torch import nn

    from modbench.backbones.weights_file import WeightsFile

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


class WeightsBackboneBuilder(Protocol):
    def __call__(self, *, in_channels: int, image_size: int, pretrained: bool,
                 weights: "WeightsFile | None") -> "nn.Module": ...
