from __future__ import annotations

import pytest
import torch

from modbench.backbones import BACKBONES
from modbench.errors import UserError


@pytest.mark.parametrize("channels,size", [(1, 8), (1, 28), (3, 32)])
def test_small_cnn_forward_backward(channels, size):
    torch.manual_seed(0)
    model = BACKBONES.get("small-cnn")(in_channels=channels, image_size=size, pretrained=False)
    x = torch.randn(2, channels, size, size)
    out = model(x)
    assert out.shape == (2, model.out_features) == (2, 128)
    out.square().mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_small_cnn_has_no_pretrained_weights():
    with pytest.raises(UserError, match="pretrained"):
        BACKBONES.get("small-cnn")(in_channels=1, image_size=8, pretrained=True)
