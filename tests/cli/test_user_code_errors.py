"""An exception raised inside a user's loss or backbone during a run: one line naming the
plugin file, the loss label, the run key and the epoch; exit 1."""

from __future__ import annotations

import re

import yaml

from helpers import TINY_SUITE

BROKEN_LOSS = '''
import torch
import torch.nn.functional as F
from torch import nn


class NormFace(nn.Module):
    family = "softmax"

    def __init__(self, num_classes, embedding_dim, scale: float = 16.0):
        super().__init__()
        self.classifier = nn.Linear(embedding_dim, num_classes)
        self.scale = scale

    def forward(self, embeddings, labels):
        logits = self.scale * F.normalize(self.classifier(embeddings))
        return F.cross_entropy(logits, labels.float())  # a float target: torch refuses
'''

BROKEN_BACKBONE = '''
from torch import nn


class Net(nn.Module):
    def __init__(self, in_channels, image_size):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 4, 3)
        self.out_features = 4

    def forward(self, images):
        return self.conv(images).mean(dim=(2, 3)).view(-1, 5)  # a wrong shape
'''


def _suite(tmp_path, losses, backbone="small-cnn"):
    data = {**TINY_SUITE, "losses": losses, "backbone": {"name": backbone, "embedding_dim": 16},
            "dataset": {"name": "digits", "subset": 6}, "train": {**TINY_SUITE["train"], "epochs": 1}}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_an_error_in_a_user_loss_names_the_file_label_run_and_epoch(cli, tmp_path, cache_dir):
    (tmp_path / "my_losses.py").write_text(BROKEN_LOSS)
    suite = _suite(tmp_path, [{"name": "./my_losses.py:NormFace", "label": "AM-softmax"}])
    result = cli("compare", "--suite", suite, "--cache-dir", cache_dir, "--device", "cpu", "--json")
    assert result.exit_code == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    key = next(p.name for p in (cache_dir / "runs").iterdir())  # the one run this suite has
    assert re.fullmatch(
        rf"error: loss 'AM-softmax' \(\./my_losses\.py:NormFace\), run {key}, epoch 1: RuntimeError: .+", lines[0]
    ), lines[0]
    assert "Traceback" not in result.stderr


def test_an_error_in_a_user_backbone_names_the_backbone(cli, tmp_path, cache_dir):
    (tmp_path / "nets.py").write_text(BROKEN_BACKBONE)
    suite = _suite(tmp_path, [{"name": "cross-entropy", "label": "CE"}], backbone="./nets.py:Net")
    result = cli("compare", "--suite", suite, "--cache-dir", cache_dir, "--device", "cpu")
    assert result.exit_code == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith("error: backbone './nets.py:Net' (loss 'CE'), run "), lines
    assert ", epoch 1: RuntimeError: " in lines[0]


def test_an_error_in_modbench_itself_is_not_blamed_on_the_user(monkeypatch):
    """A traceback without a frame in the user's files names no plugin."""
    from types import SimpleNamespace

    from modbench.engine.culprit import user_code_error

    run = SimpleNamespace(key="k", label="CE", config={"loss": {"name": "cross-entropy"}, "backbone": {"name": "small-cnn"}},
                          references={})
    try:
        raise RuntimeError("inside modbench")
    except RuntimeError as exc:
        assert user_code_error(exc, run, epoch=1) is None
