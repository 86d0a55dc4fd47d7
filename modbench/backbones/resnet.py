"""``resnet18`` and ``resnet50``: torchvision's ResNets, the final fc replaced by Identity.

Stem for small images (``image_size <= SMALL_INPUT``, i.e. CIFAR's 32x32 and Fashion-MNIST's
28x28): ``conv1`` becomes a 3x3, stride-1 convolution and the stem max-pool is removed, so the
four stages run at 32, 16, 8, 4 pixels instead of 8, 4, 2, 1 (the usual CIFAR ResNet stem, He et
al. 2016 section 4.2). Larger images keep torchvision's ImageNet stem (7x7 stride 2 + max-pool).
``in_channels`` other than 3 replaces ``conv1`` by one with that many input channels.

Pretrained (``pretrained=True``: torchvision's ImageNet weights from torch's hub cache;
``weights``: a state-dict file of the user's; both read by ``_pretrained.py``, never downloaded):
the network is torchvision's, with 3 input channels whatever the data (the engine repeats a grey
channel to RGB) and the weights checked by name and shape, the ImageNet classifier ``fc.*``
dropped. The pretrained 7x7 ``conv1`` is kept and, for small images, run at stride 1 without the
max-pool. Inputs are normalised with ImageNet's mean and std (``IMAGENET_MEAN``/``IMAGENET_STD``).
Features: 512 (resnet18) and 2048 (resnet50).
"""

from __future__ import annotations

from torch import nn
from torchvision import models

from modbench.backbones import _pretrained
from modbench.backbones.base import register_backbone
from modbench.backbones.weights_file import WeightsFile

SMALL_INPUT = 64


def _adapt(model: models.ResNet, *, in_channels: int, image_size: int, pretrained: bool):
    small = image_size <= SMALL_INPUT
    old = model.conv1
    if pretrained:
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


def _build(name: str, factory, hub_weights: list, *, in_channels: int, image_size: int,
           pretrained: bool, weights: WeightsFile | None) -> nn.Module:
    model = factory(weights=None)
    pretrained = pretrained or weights is not None
    if pretrained:
        _pretrained.check_channels(name, in_channels)
        state = _pretrained.state_dict_for(name, hub_weights, weights)
        _pretrained.load_checked(name, model, state, head=("fc.",))
        _pretrained.set_input_stats(model, _pretrained.IMAGENET_MEAN, _pretrained.IMAGENET_STD)
        in_channels = 3  # the engine repeats a grey channel
    return _adapt(model, in_channels=in_channels, image_size=image_size, pretrained=pretrained)


@register_backbone("resnet18", description="torchvision ResNet-18 from scratch, 512 features; CIFAR stem (3x3 conv, no max-pool).")
def build_resnet18(*, in_channels: int, image_size: int, pretrained: bool = False,
                   weights: WeightsFile | None = None) -> nn.Module:
    return _build("resnet18", models.resnet18, [models.ResNet18_Weights.IMAGENET1K_V1],
                  in_channels=in_channels, image_size=image_size, pretrained=pretrained, weights=weights)


@register_backbone("resnet50", description="torchvision ResNet-50 from scratch, 2048 features; CIFAR stem (3x3 conv, no max-pool).")
def build_resnet50(*, in_channels: int, image_size: int, pretrained: bool = False,
                   weights: WeightsFile | None = None) -> nn.Module:
    hub_weights = [models.ResNet50_Weights.IMAGENET1K_V2, models.ResNet50_Weights.IMAGENET1K_V1]
    return _build("resnet50", models.resnet50, hub_weights,
                  in_channels=in_channels, image_size=image_size, pretrained=pretrained, weights=weights)
