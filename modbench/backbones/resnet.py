"""``resnet18`` and ``resnet50``: torchvision's ResNets, the final fc replaced by Identity.

Stem for small images (``image_size <= SMALL_INPUT``, i.e. CIFAR's 32x32 and Fashion-MNIST's
28x28): ``conv1`` becomes a 3x3, stride-1 convolution and the stem max-pool is removed, so the
four stages run at 32, 16, 8, 4 pixels instead of 8, 4, 2, 1 (the usual CIFAR ResNet stem, He et
al. 2016 section 4.2). Larger images keep torchvision's ImageNet stem (7x7 stride 2 + max-pool).
``in_channels`` other than 3 replaces ``conv1`` by one with that many input channels.

``pretrained=True`` loads torchvision's ImageNet weights from torch's hub cache only (see
``_pretrained.py``); the pretrained 7x7 ``conv1`` is kept (summed over RGB for one channel) and,
for small images, run at stride 1 without the max-pool.
Features: 512 (resnet18) and 2048 (resnet50).
"""

from __future__ import annotations

from torch import nn
from torchvision import models

from modbench.backbones import _pretrained
from modbench.backbones.base import register_backbone

SMALL_INPUT = 64


def _adapt(model: models.ResNet, *, in_channels: int, image_size: int, pretrained: bool):
    small = image_size <= SMALL_INPUT
    old = model.conv1
    if pretrained:
        if in_channels == 1:
            conv = nn.Conv2d(1, old.out_channels, 7, stride=old.stride, padding=3, bias=False)
            conv.weight.data.copy_(_pretrained.grey_conv_weight(old.weight.data))
            model.conv1 = conv
        if small:
            model.conv1.stride = (1, 1)
    elif small:
        model.conv1 = nn.Conv2d(in_channels, old.out_channels, 3, stride=1, padding=1, bias=False)
    elif in_channels != 3:
        model.conv1 = nn.Conv2d(in_channels, old.out_channels, 7, stride=2, padding=3, bias=False)
    if model.conv1 is not old and not pretrained:
        nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    if small:
        model.maxpool = nn.Identity()
    model.out_features = model.fc.in_features
    model.fc = nn.Identity()
    return model


def _build(name: str, factory, weights: list, *, in_channels: int, image_size: int,
           pretrained: bool) -> nn.Module:
    model = factory(weights=None)
    if pretrained:
        _pretrained.check_channels(name, in_channels)
        model.load_state_dict(_pretrained.load_cached_state_dict(name, weights))
    return _adapt(model, in_channels=in_channels, image_size=image_size, pretrained=pretrained)


@register_backbone("resnet18", description="torchvision ResNet-18 from scratch, 512 features; CIFAR stem (3x3 conv, no max-pool).")
def build_resnet18(*, in_channels: int, image_size: int, pretrained: bool = False) -> nn.Module:
    return _build("resnet18", models.resnet18, [models.ResNet18_Weights.IMAGENET1K_V1],
                  in_channels=in_channels, image_size=image_size, pretrained=pretrained)


@register_backbone("resnet50", description="torchvision ResNet-50 from scratch, 2048 features; CIFAR stem (3x3 conv, no max-pool).")
def build_resnet50(*, in_channels: int, image_size: int, pretrained: bool = False) -> nn.Module:
    weights = [models.ResNet50_Weights.IMAGENET1K_V2, models.ResNet50_Weights.IMAGENET1K_V1]
    return _build("resnet50", models.resnet50, weights,
                  in_channels=in_channels, image_size=image_size, pretrained=pretrained)
