"""The network every loss of a suite trains: backbone, then the embedding head (README.md, "The protocol")."""

from __future__ import annotations

import torch
from torch import nn


class EmbeddingNet(nn.Module):
    def __init__(self, backbone: nn.Module, embedding_dim: int):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(int(backbone.out_features), embedding_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(images))


def build_model(backbone_cfg: dict, *, in_channels: int, image_size: int, base_dir=None) -> EmbeddingNet:
    """``base_dir``: the suite file's folder, for a backbone named ``./file.py:Class``."""
    from modbench.backbones import BACKBONES

    builder = BACKBONES.get(backbone_cfg["name"], base_dir=base_dir)
    backbone = builder(
        in_channels=in_channels, image_size=image_size, pretrained=backbone_cfg.get("pretrained", False)
    )
    return EmbeddingNet(backbone, backbone_cfg["embedding_dim"])
