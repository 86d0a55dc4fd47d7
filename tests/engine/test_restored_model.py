"""A network rebuilt from its checkpoint (re-evaluation, ``modbench export``) runs as it trained:
in the device's memory layout (channels-last on CPU and CUDA). Rebuilt in the default layout, its
convolutions ran other oneDNN kernels, whose embeddings differed from the training-time ones in
the last bits: on some CPUs (AVX-512) enough to move the k-means partition, so the NMI and F1 of
an exported or re-evaluated run differed from the numbers the run recorded."""

from __future__ import annotations

import copy
import json

import numpy as np
import torch
import yaml
from typer.testing import CliRunner

from helpers import TINY_SUITE
from modbench.cache.store import RunStore
from modbench.cli.app import app
from modbench.engine import backend
from modbench.engine.export import run_test_embeddings
from modbench.engine.loop import place
from modbench.engine.model import build_model, restored_model


def _conv_weights(model):
    return [p for p in model.parameters() if p.dim() == 4]


def test_a_restored_network_has_the_layout_it_trained_in():
    cfg = {"name": "small-cnn", "embedding_dim": 8}
    torch.manual_seed(0)
    trained = build_model(cfg, in_channels=1, image_size=8)
    place(trained, torch.nn.Identity(), torch.device("cpu"))  # as training places it
    assert backend.channels_last(torch.device("cpu"))
    state = copy.deepcopy(trained.state_dict())
    again = restored_model(cfg, state, in_channels=1, image_size=8, device=torch.device("cpu"))
    assert _conv_weights(trained) and all(p.is_contiguous(memory_format=torch.channels_last)
                                          for p in _conv_weights(again))
    assert [p.stride() for p in _conv_weights(again)] == [p.stride() for p in _conv_weights(trained)]
    images = torch.rand(16, 1, 8, 8).contiguous(memory_format=torch.channels_last)
    trained.eval(), again.eval()
    with torch.inference_mode():
        assert torch.equal(trained(images), again(images))


def test_exported_embeddings_are_the_ones_the_run_measured(tmp_path, monkeypatch):
    """Bit for bit: the test embeddings the training-time evaluation computed, and those
    `export` recomputes from the checkpoint."""
    import modbench.engine.evaluate as evaluate
    import modbench.engine.train as train

    seen = []
    real = evaluate.embed

    def recording(model, images, data, batch_size=None):
        out = real(model, images, data, batch_size)
        seen.append((images.shape[0], out.clone()))
        return out

    monkeypatch.setattr(train, "embed", recording)
    suite = tmp_path / "tiny.yaml"
    suite.write_text(yaml.safe_dump(copy.deepcopy(TINY_SUITE)))
    cache = tmp_path / "cache"
    result = CliRunner().invoke(app, ["compare", "--suite", str(suite), "--loss", "CE", "--json", "--device", "cpu",
                                      "--cache-dir", str(cache)])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)[0]
    run_dir = RunStore(cache).run(record["run"])
    config = json.loads(run_dir.config_file.read_text())
    exported, labels, _ = run_test_embeddings(run_dir, config, device=torch.device("cpu"))
    measured = [out for n, out in seen if n == exported.shape[0]]
    assert measured and torch.equal(measured[-1], exported)
    assert np.unique(labels.numpy()).size == 10
