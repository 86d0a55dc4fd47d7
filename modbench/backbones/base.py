"""The contract between a backbone and the engine.

A backbone builder is ``build(*, in_channels, image_size, pretrained) -> nn.Module``; the module
maps a float batch [B, C, H, W] to features [B, out_features] and has an ``out_features``
attribute. The engine adds the embedding head (``Linear(out_features, embedding_dim)``).
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn


class Backbone(Protocol):
    out_features: int

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...


class BackboneBuilder(Protocol):
    def __call__(self, *, in_channels: int, image_size: int, pretrained: bool) -> nn.Module: ...
