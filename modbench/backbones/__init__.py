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
BACKBONES.add(
    "googlenet",
    "modbench.backbones.googlenet:build",
    "torchvision GoogLeNet from scratch, 1024 features; 3x3 stride-1 stem for <=64 px images.",
)
BACKBONES.add(
    "resnet18",
    "modbench.backbones.resnet:build_resnet18",
    "torchvision ResNet-18 from scratch, 512 features; CIFAR stem (3x3 conv, no max-pool).",
)
BACKBONES.add(
    "resnet50",
    "modbench.backbones.resnet:build_resnet50",
    "torchvision ResNet-50 from scratch, 2048 features; CIFAR stem (3x3 conv, no max-pool).",
)
