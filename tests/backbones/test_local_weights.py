"""backbone.weights: a local state-dict file, checked by name and shape, read without running
code, never downloaded; and the inputs normalised as the weights expect."""

from __future__ import annotations

import hashlib
import pathlib
import socket
import urllib.request

import pytest
import torch
from torch import nn
from torchvision import models

from modbench.backbones import BACKBONES, _pretrained
from modbench.backbones.weights_file import WeightsFile
from modbench.engine.model import build_model
from modbench.errors import UserError
from modbench.plugins import resolve_references


def _save(state, path: pathlib.Path) -> WeightsFile:
    torch.save(state, path)
    return WeightsFile(path, hashlib.sha256(path.read_bytes()).hexdigest())


@pytest.fixture
def resnet18_state():
    torch.manual_seed(3)
    return models.resnet18(weights=None).state_dict()


@pytest.fixture
def no_network(monkeypatch):
    """Every way weights could be fetched raises: torch.hub, urllib, sockets."""

    def refuse(*args, **kwargs):
        raise AssertionError("a network function was called")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_resnet_loads_every_tensor_of_the_file_and_drops_the_classifier(tmp_path, resnet18_state, no_network):
    weights = _save(resnet18_state, tmp_path / "r18.pth")
    model = BACKBONES.get("resnet18")(in_channels=3, image_size=32, pretrained=False, weights=weights)
    got = model.state_dict()
    assert set(got) == {k for k in resnet18_state if not k.startswith("fc.")}
    for key, value in got.items():
        assert torch.equal(value, resnet18_state[key]), key
    assert model.conv1.stride == (1, 1) and isinstance(model.maxpool, nn.Identity)  # small-image stem
    assert model.input_mean == _pretrained.IMAGENET_MEAN and model.input_std == _pretrained.IMAGENET_STD


def test_a_headless_file_loads_too(tmp_path, resnet18_state):
    headless = {k: v for k, v in resnet18_state.items() if not k.startswith("fc.")}
    model = BACKBONES.get("resnet18")(in_channels=1, image_size=8, pretrained=False,
                                      weights=_save(headless, tmp_path / "r18.pth"))
    assert torch.equal(model.layer4[1].bn2.running_var, resnet18_state["layer4.1.bn2.running_var"])
    assert model.conv1.in_channels == 3  # grey images are repeated to RGB by the engine


def test_googlenet_drops_the_auxiliary_classifiers(tmp_path):
    torch.manual_seed(0)
    reference = models.GoogLeNet(aux_logits=True, init_weights=True, transform_input=False)
    weights = _save(reference.state_dict(), tmp_path / "g.pth")
    model = BACKBONES.get("googlenet")(in_channels=3, image_size=32, pretrained=False, weights=weights)
    assert torch.equal(model.inception5b.branch4[1].conv.weight, reference.inception5b.branch4[1].conv.weight)
    assert model.input_mean == (0.5, 0.5, 0.5)


def test_wrong_shapes_name_the_first_keys(tmp_path, resnet18_state):
    state = dict(resnet18_state)
    state["layer2.0.conv1.weight"] = torch.zeros(128, 64, 5, 5)
    del state["layer3.1.bn1.running_mean"]
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(UserError) as info:
        BACKBONES.get("resnet18")(in_channels=3, image_size=32, pretrained=False,
                                  weights=_save(state, tmp_path / "bad.pth"))
    message = str(info.value)
    assert "layer2.0.conv1.weight is (128, 64, 5, 5), the network's (128, 64, 3, 3)" in message
    assert "layer3.1.bn1.running_mean missing" in message and "extra.weight unexpected" in message
    assert str(tmp_path / "bad.pth") in message and "\n" not in message


def test_another_architecture_is_refused_with_a_count(tmp_path):
    weights = _save(models.resnet18(weights=None).state_dict(), tmp_path / "r18.pth")
    with pytest.raises(UserError, match=r"do not fit the network \(.* and \d+ more\)"):
        BACKBONES.get("resnet50")(in_channels=3, image_size=32, pretrained=False, weights=weights)


@pytest.mark.parametrize("content, expected", [
    ([1, 2, 3], "is not a state dict"),
    ({"state_dict": {"w": torch.zeros(1)}, "epoch": 3}, "save its 'state_dict' entry alone"),
    ({}, "is not a state dict"),
])
def test_not_a_state_dict(tmp_path, content, expected):
    with pytest.raises(UserError, match=expected):
        BACKBONES.get("resnet18")(in_channels=3, image_size=32, pretrained=False,
                                  weights=_save(content, tmp_path / "x.pth"))


class _RunsCode:
    """Unpickling this calls Path.touch: what a malicious checkpoint could do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_a_pickle_with_code_is_never_run(tmp_path):
    marker = tmp_path / "code-ran"
    weights = _save({"conv1.weight": _RunsCode(marker)}, tmp_path / "evil.pth")
    with pytest.raises(UserError, match="would run code"):
        BACKBONES.get("resnet18")(in_channels=3, image_size=32, pretrained=False, weights=weights)
    assert not marker.exists()
    torch.load(weights.path, weights_only=False)  # the file does run code when unpickled unsafely
    assert marker.exists()


def test_garbage_bytes_are_a_user_error(tmp_path):
    path = tmp_path / "w.pth"
    path.write_bytes(b"not weights at all")
    with pytest.raises(UserError, match="cannot read the weights"):
        BACKBONES.get("resnet18")(in_channels=3, image_size=32, pretrained=False, weights=WeightsFile(path))


def test_safetensors_files_are_read(tmp_path, resnet18_state):
    safetensors = pytest.importorskip("safetensors.torch")
    path = tmp_path / "r18.safetensors"
    safetensors.save_file({k: v.contiguous() for k, v in resnet18_state.items()}, str(path))
    model = BACKBONES.get("resnet18")(in_channels=3, image_size=32, pretrained=False,
                                      weights=WeightsFile(path, hashlib.sha256(path.read_bytes()).hexdigest()))
    assert torch.equal(model.layer1[0].conv2.weight, resnet18_state["layer1.0.conv2.weight"])


def test_a_file_changed_since_planning_is_refused(tmp_path, resnet18_state):
    weights = _save(resnet18_state, tmp_path / "r18.pth")
    resnet18_state["fc.bias"] += 1
    torch.save(resnet18_state, weights.path)
    with pytest.raises(UserError, match="changed since the runs were planned"):
        BACKBONES.get("resnet18")(in_channels=3, image_size=32, pretrained=False, weights=weights)


def test_pretrained_true_reads_the_hub_cache_through_the_same_checks(tmp_path, monkeypatch, no_network):
    state = models.resnet50(weights=None).state_dict()
    torch.save(state, tmp_path / "tmp.pth")
    digest = hashlib.sha256((tmp_path / "tmp.pth").read_bytes()).hexdigest()[:8]
    path = tmp_path / f"resnet18-{digest}.pth"  # a resnet50 file under resnet18's name
    (tmp_path / "tmp.pth").rename(path)
    monkeypatch.setattr(_pretrained, "cached_path", lambda url: path)
    with pytest.raises(UserError, match="do not fit the network"):
        BACKBONES.get("resnet18")(in_channels=3, image_size=32, pretrained=True)


# -- the engine: a plugin's backbone, and the inputs the weights expect --------------------------


class TinyNet(nn.Module):
    def __init__(self, in_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 4, 3)
        self.out_features = 4

    def forward(self, x):
        return self.conv(x).mean((2, 3))


def test_a_plugin_backbone_gets_the_whole_file(tmp_path, monkeypatch):
    (tmp_path / "nets.py").write_text(
        "from torch import nn\n"
        "class Tiny(nn.Module):\n"
        "    def __init__(self, in_channels):\n"
        "        super().__init__()\n"
        "        self.conv = nn.Conv2d(in_channels, 4, 3)\n"
        "        self.out_features = 4\n"
        "    def forward(self, x):\n"
        "        return self.conv(x).mean((2, 3))\n")
    torch.manual_seed(5)
    state = TinyNet(1).state_dict()
    weights = _save(state, tmp_path / "tiny.pth")
    cfg = {"name": "./nets.py:Tiny", "embedding_dim": 8, "weights": str(weights.path), "weights_digest": weights.sha256}
    model = build_model(cfg, in_channels=1, image_size=8, references=resolve_references([cfg["name"]], tmp_path), data_stats=((0.5,), (0.2,)))
    assert torch.equal(model.backbone.conv.weight, state["conv.weight"])
    assert model.input_stats is None  # the plugin declares no input statistics: the dataset's
    bad = _save(TinyNet(3).state_dict(), tmp_path / "rgb.pth")
    cfg.update(weights=str(bad.path), weights_digest=bad.sha256)
    with pytest.raises(UserError, match=r"conv.weight is \(4, 3, 3, 3\), the network's \(4, 1, 3, 3\)"):
        build_model(cfg, in_channels=1, image_size=8, references=resolve_references([cfg["name"]], tmp_path), data_stats=((0.5,), (0.2,)))


@pytest.mark.parametrize("channels", [1, 3])
def test_the_backbone_sees_the_images_normalised_as_its_weights_expect(tmp_path, resnet18_state, channels):
    weights = _save(resnet18_state, tmp_path / "r18.pth")
    cfg = {"name": "resnet18", "embedding_dim": 8, "weights": str(weights.path), "weights_digest": weights.sha256}
    data_mean, data_std = (0.3, 0.4, 0.5)[:channels], (0.2, 0.25, 0.3)[:channels]
    model = build_model(cfg, in_channels=channels, image_size=8, data_stats=(data_mean, data_std)).eval()
    seen = {}
    model.backbone.register_forward_pre_hook(lambda m, args: seen.update(x=args[0]))
    raw = torch.rand(2, channels, 8, 8, dtype=torch.float64)  # intensities in [0, 1]
    data_normalised = (raw - torch.tensor(data_mean, dtype=torch.float64).view(1, -1, 1, 1)) \
        / torch.tensor(data_std, dtype=torch.float64).view(1, -1, 1, 1)
    with torch.no_grad():
        model(data_normalised.float())
    rgb = raw.expand(-1, 3, -1, -1)
    expected = (rgb - torch.tensor(_pretrained.IMAGENET_MEAN, dtype=torch.float64).view(1, 3, 1, 1)) \
        / torch.tensor(_pretrained.IMAGENET_STD, dtype=torch.float64).view(1, 3, 1, 1)
    assert seen["x"].shape == (2, 3, 8, 8)
    torch.testing.assert_close(seen["x"].double(), expected, atol=1e-5, rtol=1e-5)
    assert "input_stats.scale" not in model.state_dict()  # checkpoints keep their keys


def test_from_scratch_keeps_the_datasets_normalisation():
    model = build_model({"name": "resnet18", "embedding_dim": 8}, in_channels=1, image_size=8,
                        data_stats=((0.5,), (0.2,)))
    assert model.input_stats is None and model.backbone.conv1.in_channels == 1


# -- timm: pretrained_file, never a download ---------------------------------------------------


def test_timm_model_loads_a_local_file(tmp_path, no_network):
    timm = pytest.importorskip("timm")
    torch.manual_seed(2)
    reference = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32)  # with its head
    weights = _save(reference.state_dict(), tmp_path / "vit.pth")
    model = BACKBONES.get("timm:vit_tiny_patch16_224")(in_channels=1, image_size=32, pretrained=False,
                                                       weights=weights)
    got = model.state_dict()
    assert set(got) == {k for k in reference.state_dict() if not k.startswith("head.")}
    assert all(torch.equal(v, reference.state_dict()[k]) for k, v in got.items())
    assert model.input_mean == (0.5, 0.5, 0.5)  # the model's pretrained_cfg, not ImageNet's
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, model.out_features)


def test_timm_resnet_keeps_its_pretrained_stem_on_small_images(tmp_path):
    timm = pytest.importorskip("timm")
    reference = timm.create_model("resnet18", pretrained=False)
    weights = _save(reference.state_dict(), tmp_path / "r18.pth")
    model = BACKBONES.get("timm:resnet18")(in_channels=3, image_size=8, pretrained=False, weights=weights)
    assert torch.equal(model.conv1.weight, reference.conv1.weight) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, nn.Identity) and model.small_stem
    assert model.input_mean == _pretrained.IMAGENET_MEAN
    with pytest.raises(UserError, match="do not fit the network"):
        BACKBONES.get("timm:resnet34")(in_channels=3, image_size=8, pretrained=False, weights=weights)


def test_timm_pretrained_true_is_refused_rather_than_downloaded(no_network):
    pytest.importorskip("timm")
    with pytest.raises(UserError, match="never downloads weights.*pretrained_file"):
        BACKBONES.get("timm:resnet18")(in_channels=3, image_size=32, pretrained=True)


def test_small_cnn_takes_a_file_of_its_own_architecture(tmp_path):
    torch.manual_seed(4)
    reference = BACKBONES.get("small-cnn")(in_channels=1, image_size=8, pretrained=False)
    weights = _save(reference.state_dict(), tmp_path / "cnn.pth")
    cfg = {"name": "small-cnn", "embedding_dim": 8, "weights": str(weights.path), "weights_digest": weights.sha256}
    model = build_model(cfg, in_channels=1, image_size=8, data_stats=((0.5,), (0.2,)))
    assert all(torch.equal(v, reference.state_dict()[k]) for k, v in model.backbone.state_dict().items())
    assert model.input_stats is None


def test_a_hub_file_other_than_the_planned_one_is_refused(tmp_path, monkeypatch, resnet18_state):
    torch.save(resnet18_state, tmp_path / "tmp.pth")
    digest = hashlib.sha256((tmp_path / "tmp.pth").read_bytes()).hexdigest()
    path = tmp_path / f"resnet18-{digest[:8]}.pth"
    (tmp_path / "tmp.pth").rename(path)
    monkeypatch.setattr(_pretrained, "cached_path", lambda url: path)
    planned = WeightsFile(None, digest)
    model = BACKBONES.get("resnet18")(in_channels=3, image_size=32, pretrained=True, weights=planned)
    assert torch.equal(model.layer1[0].conv1.weight, resnet18_state["layer1.0.conv1.weight"])
    with pytest.raises(UserError, match="not the weights file the runs were planned with"):
        BACKBONES.get("resnet18")(in_channels=3, image_size=32, pretrained=True, weights=WeightsFile(None, "0" * 64))
