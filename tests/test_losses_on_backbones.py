"""Every registered loss takes a training step on every backbone, with finite values."""

from __future__ import annotations

import pytest
import torch

from modbench.backbones import BACKBONES
from modbench.engine.model import EmbeddingNet
from modbench.engine.train import build_loss, build_optimizer
from modbench.losses import LOSSES

TRAIN = {"optimizer": "adam", "lr": 1e-3, "weight_decay": 4e-4, "betas": (0.9, 0.999), "momentum": 0.9}


# The torchvision backbones take from half a minute to minutes on two cores (every loss, forward
# and backward): slow tests; the small CNN stays in the quick run.
QUICK = {"small-cnn"}


@pytest.mark.parametrize(
    "backbone", [name if name in QUICK else pytest.param(name, marks=pytest.mark.slow) for name in BACKBONES.names()]
)
def test_each_loss_steps_on_backbone(backbone):
    torch.manual_seed(0)
    channels, size = (1, 28) if backbone == "resnet50" else (3, 32)  # grey 28x28 and RGB 32x32 stems
    images = torch.randn(8, channels, size, size)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    net = EmbeddingNet(BACKBONES.get(backbone)(in_channels=channels, image_size=size, pretrained=False), 16)
    for name in LOSSES.names():
        loss_fn = build_loss({"name": name, "params": {}}, num_classes=4, embedding_dim=16)
        optimizer = build_optimizer(TRAIN, net, loss_fn)
        before = [p.detach().clone() for p in net.head.parameters()]
        loss = loss_fn(net(images), labels)
        optimizer.zero_grad()
        loss.backward()
        grads = [p.grad for p in net.parameters() if p.grad is not None]
        assert torch.isfinite(loss), (backbone, name)
        assert grads and all(torch.isfinite(g).all() for g in grads), (backbone, name)
        optimizer.step()
        assert any(not torch.equal(b, p) for b, p in zip(before, net.head.parameters())), (backbone, name)
