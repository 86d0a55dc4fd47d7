"""``small-cnn``: three conv blocks with BatchNorm and global average pooling, for 8x8 to 32x32.

Block i: two 3x3 conv-BN-ReLU layers with 32, 64, 128 channels; a 2x2 max-pool after blocks 1
and 2 (8x8 -> 4x4 -> 2x2; 32x32 -> 16x16 -> 8x8). Global average pooling gives 128 features, so
any input size from 4x4 up works. About 0.29 M parameters; seconds per epoch on digits on a CPU.
"""

from __future__ import annotations

from torch import nn

from modbench.backbones.base import register_backbone
from modbench.errors import UserError

WIDTHS = (32, 64, 128)


def _block(c_in: int, c_out: int) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


class SmallCNN(nn.Module):
    def __init__(self, in_channels: int, widths: tuple[int, ...] = WIDTHS):
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for i, w in enumerate(widths):
            layers += _block(c, w)
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            c = w
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out_features = c
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        return self.pool(self.features(x)).flatten(1)


@register_backbone("small-cnn", description="A 3-block CNN for small images (8x8 to 32x32); seconds per epoch on a CPU.")
def build(*, in_channels: int, image_size: int, pretrained: bool = False) -> nn.Module:
    if pretrained:
        raise UserError(
            "backbone 'small-cnn' has no pretrained weights; set 'pretrained: false' in the suite"
        )
    if image_size < 4:
        raise UserError(f"backbone 'small-cnn' needs images of at least 4x4, got {image_size}")
    return SmallCNN(in_channels)
