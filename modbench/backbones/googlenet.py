"""``googlenet``: torchvision's GoogLeNet (Inception v1), the final fc replaced by Identity.

Built from scratch as ``googlenet(weights=None, aux_logits=False, init_weights=True,
transform_input=False)``: no auxiliary classifiers (the embedding is what is trained and
evaluated), torchvision's truncated-normal initialisation, and no ImageNet input re-scaling (the
engine normalises with the dataset's own mean and std). torchvision's dropout (p=0.2) before the
removed fc stays, so the 1024 pooled features are dropped out in training as in the original.

Stem for small images (``image_size <= SMALL_INPUT``): ``conv1`` becomes a 3x3 stride-1
conv-BN-ReLU and ``maxpool1``/``maxpool2`` are removed, so the inception stages 3, 4, 5 run at
32, 16, 8 pixels for CIFAR (28, 14, 7 for Fashion-MNIST) instead of 4, 2, 1: the layout of the
usual CIFAR GoogLeNet. Larger images keep the ImageNet stem.

Pretrained (``pretrained=True``: torchvision's ImageNet weights from torch's hub cache;
``weights``: a state-dict file of the user's; never downloaded): torchvision's GoogLeNet with 3
input channels (the engine repeats a grey channel to RGB), the weights checked by name and shape
with the classifiers ``fc.*``, ``aux1.*``, ``aux2.*`` dropped. The pretrained 7x7 ``conv1`` is
kept and, for small images, run at stride 1 without the two max-pools. torchvision's ImageNet
GoogLeNet weights come from Google's original model, which took inputs scaled to [-1, 1]:
torchvision's ``transform_input`` maps ImageNet-normalised inputs there. Here the engine
normalises with mean 0.5 and std 0.5 per channel instead, the same inputs, with
``transform_input`` off. Features: 1024.
"""

from __future__ import annotations

from torch import nn
from torchvision import models
from torchvision.models.googlenet import BasicConv2d

from modbench.backbones import _pretrained
from modbench.backbones.base import register_backbone
from modbench.backbones.weights_file import WeightsFile

SMALL_INPUT = 64
HEAD = ("fc.", "aux1.", "aux2.")  # the ImageNet classifiers, dropped from a checkpoint
GOOGLE_MEAN, GOOGLE_STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)  # inputs in [-1, 1]


@register_backbone("googlenet", description="torchvision GoogLeNet from scratch, 1024 features; 3x3 stride-1 stem for <=64 px images.")
def build(*, in_channels: int, image_size: int, pretrained: bool = False,
          weights: WeightsFile | None = None) -> nn.Module:
    small = image_size <= SMALL_INPUT
    if pretrained or weights is not None:
        _pretrained.check_channels("googlenet", in_channels)
        model = models.GoogLeNet(aux_logits=False, transform_input=False, init_weights=False)
        state = _pretrained.state_dict_for("googlenet", [models.GoogLeNet_Weights.IMAGENET1K_V1], weights)
        _pretrained.load_checked("googlenet", model, state, head=HEAD)
        _pretrained.set_input_stats(model, GOOGLE_MEAN, GOOGLE_STD)
        if small:
            model.conv1.conv.stride = (1, 1)
    else:
        model = models.googlenet(weights=None, aux_logits=False, init_weights=True,
                                 transform_input=False)
        if small or in_channels != 3:
            k, stride = (3, 1) if small else (7, 2)
            model.conv1 = BasicConv2d(in_channels, 64, kernel_size=k, stride=stride,
                                      padding=k // 2)
            # the truncated normal that torchvision's init_weights gives every other conv
            nn.init.trunc_normal_(model.conv1.conv.weight, mean=0.0, std=0.01, a=-2, b=2)
    if small:
        model.maxpool1 = nn.Identity()
        model.maxpool2 = nn.Identity()
    model.out_features = model.fc.in_features
    model.fc = nn.Identity()
    return model
