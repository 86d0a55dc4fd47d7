"""``modbench train`` with backbone.weights: a run from a local file (BatchNorm frozen), and a
one-line error with exit 2 for every bad file."""

from __future__ import annotations

import pathlib

import pytest
import torch
import yaml
from torchvision import models


def _suite(tmp_path, weights: str, **backbone) -> pathlib.Path:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({
        "name": "weights",
        "dataset": {"name": "digits", "subset": 3, "test_subset": 3},
        "backbone": {"name": "resnet18", "embedding_dim": 8, "weights": weights, **backbone},
        "train": {"epochs": 1, "batch_size": 10, "lr": 1.0e-2},
        "eval": {"metrics": ["recall@1"], "val_metrics": ["recall@1"]},
        "seeds": [0],
        "losses": [{"name": "cross-entropy"}],
    }, sort_keys=False))
    return path


def _one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.slow
def test_train_from_a_local_file_with_frozen_batchnorm(cli, tmp_path, cache_dir):
    torch.manual_seed(0)
    state = models.resnet18(weights=None).state_dict()
    torch.save(state, tmp_path / "r18.pth")
    result = cli("train", "--suite", _suite(tmp_path, "r18.pth", freeze_bn=True))
    assert result.exit_code == 0, result.output
    (checkpoint,) = cache_dir.glob("runs/*/checkpoint.pt")
    trained = torch.load(checkpoint, weights_only=False)["model"]
    for key in ("bn1.running_mean", "layer3.1.bn2.running_var", "layer4.0.downsample.1.weight", "bn1.bias"):
        assert torch.equal(trained[f"backbone.{key}"], state[key]), key
    assert not torch.equal(trained["backbone.layer4.1.conv2.weight"], state["layer4.1.conv2.weight"])


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_bad_weights_files_are_one_line_errors(cli, tmp_path):
    _one_line_error(cli("train", "--suite", _suite(tmp_path, "absent.pth")),
                    "backbone.weights", "absent.pth does not exist")

    torch.save([1, 2], tmp_path / "list.pth")
    _one_line_error(cli("train", "--suite", _suite(tmp_path, "list.pth")), "list.pth is not a state dict")

    state = models.resnet18(weights=None).state_dict()
    state["layer1.0.conv1.weight"] = torch.zeros(64, 64, 1, 1)
    torch.save(state, tmp_path / "shapes.pth")
    _one_line_error(cli("train", "--suite", _suite(tmp_path, "shapes.pth")),
                    "do not fit the network", "layer1.0.conv1.weight is (64, 64, 1, 1)")

    marker = tmp_path / "code-ran"
    torch.save({"conv1.weight": _RunsCode(marker)}, tmp_path / "evil.pth")
    _one_line_error(cli("train", "--suite", _suite(tmp_path, "evil.pth")), "would run code")
    assert not marker.exists()
