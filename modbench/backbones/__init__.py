"""The backbone registry. Each entry is a builder::

    build(*, in_channels, image_size, pretrained) -> nn.Module  # with .out_features

(see ``base.py``). Names are registered lazily so that listing them imports no torch.
"""

from __future__ import annotations

from modbench.registry import Registry

BACKBONES = Registry("backbone")
BACKBONES.add(
    "small-cnn",
    "modbench.backbones.small_cnn:build",
    "A 3-block CNN for small images (8x8 to 32x32); seconds per epoch on a CPU.",
)
