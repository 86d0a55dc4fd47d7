"""googlenet, resnet18, resnet50: shapes, backward, stems, and pretrained weights from disk only."""

from __future__ import annotations

import hashlib

import pytest
import torch
from torch import nn

from modbench.backbones import BACKBONES, _pretrained
from modbench.errors import UserError

FEATURES = {"googlenet": 1024, "resnet18": 512, "resnet50": 2048}
# 8x8 grey (digits) through the big networks once, with resnet18; the paper's sizes with all.
# The two paper networks at the paper's sizes take seconds each: slow tests.
CASES = [("resnet18", 1, 8)] + [
    (n, c, s) if n == "resnet18" else pytest.param(n, c, s, marks=pytest.mark.slow)
    for n in sorted(FEATURES) for c, s in [(1, 28), (3, 32)]
]


@pytest.mark.parametrize("name,channels,size", CASES)
def test_forward_backward(name, channels, size):
    torch.manual_seed(0)
    model = BACKBONES.get(name)(in_channels=channels, image_size=size, pretrained=False)
    assert model.out_features == FEATURES[name]
    model.train()
    out = model(torch.randn(2, channels, size, size))
    assert out.shape == (2, FEATURES[name])
    assert torch.isfinite(out).all()
    out.square().mean().backward()
    first = next(model.parameters())  # the adapted stem conv
    assert first.shape[1] == channels
    assert first.grad is not None and first.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(1, channels, size, size)).shape == (1, FEATURES[name])


def _stem(model, name):
    return model.conv1.conv if name == "googlenet" else model.conv1


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_small_image_stem(name):
    model = BACKBONES.get(name)(in_channels=3, image_size=32, pretrained=False)
    conv = _stem(model, name)
    assert conv.kernel_size == (3, 3) and conv.stride == (1, 1)
    pools = ["maxpool1", "maxpool2"] if name == "googlenet" else ["maxpool"]
    assert all(isinstance(getattr(model, p), nn.Identity) for p in pools)
    assert isinstance(model.fc, nn.Identity)
    if name == "googlenet":
        assert model.aux1 is None and model.aux2 is None and not model.transform_input


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_large_images_keep_the_imagenet_stem(name):
    model = BACKBONES.get(name)(in_channels=1, image_size=224, pretrained=False)
    conv = _stem(model, name)
    assert conv.kernel_size == (7, 7) and conv.stride == (2, 2) and conv.in_channels == 1
    pool = model.maxpool1 if name == "googlenet" else model.maxpool
    assert isinstance(pool, nn.MaxPool2d)


def test_small_stem_keeps_spatial_resolution():
    # With the CIFAR stem ResNet-50's last stage still sees 4x4 from a 32x32 input (1x1 without).
    model = BACKBONES.get("resnet50")(in_channels=3, image_size=32, pretrained=False).eval()
    seen = {}
    model.layer4.register_forward_hook(lambda m, i, o: seen.update(shape=o.shape))
    with torch.no_grad():
        model(torch.randn(1, 3, 32, 32))
    assert seen["shape"][-2:] == (4, 4)


@pytest.mark.parametrize("name", sorted(FEATURES) + ["small-cnn"])
def test_pretrained_without_weights_on_disk_is_a_user_error(name, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    with pytest.raises(UserError, match="pretrained") as info:
        BACKBONES.get(name)(in_channels=3, image_size=32, pretrained=True)
    if name != "small-cnn":
        assert str(tmp_path / "torch-home" / "hub" / "checkpoints") in str(info.value)
        assert "never downloads" in str(info.value)
    assert not (tmp_path / "torch-home").exists()  # nothing fetched, nothing created


def _write_weights(directory, stem, state):
    """Save ``state`` as torchvision names its files: ``<stem>-<sha256 prefix>.pth``."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / "tmp.pth"
    torch.save(state, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]
    path = directory / f"{stem}-{digest}.pth"
    tmp.rename(path)
    return path


@pytest.mark.parametrize("channels", [1, 3])
def test_pretrained_weights_load_from_the_hub_cache(tmp_path, monkeypatch, channels):
    from torchvision import models

    torch.manual_seed(1)
    reference = models.resnet18(weights=None)
    path = _write_weights(tmp_path, "resnet18", reference.state_dict())
    monkeypatch.setattr(_pretrained, "cached_path", lambda url: path)
    model = BACKBONES.get("resnet18")(in_channels=channels, image_size=32, pretrained=True)
    assert torch.equal(model.layer3[0].conv1.weight, reference.layer3[0].conv1.weight)
    # RGB whatever the data: the engine repeats a grey channel (engine/model.py, InputStats)
    assert torch.equal(model.conv1.weight, reference.conv1.weight)
    assert model.conv1.stride == (1, 1) and isinstance(model.maxpool, nn.Identity)
    assert model.input_mean == (0.485, 0.456, 0.406) and model.input_std == (0.229, 0.224, 0.225)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 512)


def test_pretrained_googlenet_loads_and_drops_aux(tmp_path, monkeypatch):
    from torchvision import models

    reference = models.GoogLeNet(aux_logits=True, init_weights=True)
    path = _write_weights(tmp_path, "googlenet", reference.state_dict())
    monkeypatch.setattr(_pretrained, "cached_path", lambda url: path)
    model = BACKBONES.get("googlenet")(in_channels=3, image_size=32, pretrained=True)
    assert model.aux1 is None and not model.transform_input
    assert model.input_mean == (0.5, 0.5, 0.5) and model.input_std == (0.5, 0.5, 0.5)
    assert torch.equal(model.inception4a.branch1.conv.weight,
                       reference.inception4a.branch1.conv.weight)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 1024)


def test_corrupted_weights_file_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / "resnet18-f37072fd.pth"
    bad.write_bytes(b"not the weights")
    monkeypatch.setattr(_pretrained, "cached_path", lambda url: bad)
    with pytest.raises(UserError, match="corrupted"):
        BACKBONES.get("resnet18")(in_channels=3, image_size=32, pretrained=True)
