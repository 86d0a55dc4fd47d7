"""backbone.weights in a suite: resolved against the suite file's folder, its sha256 in the run
key (other bytes retrain), freeze_bn in the key, and the suites that use neither keep their keys."""

from __future__ import annotations

import hashlib
import os
import pathlib

import pytest
import yaml

from modbench.backbones import weights_file
from modbench.datasets import locate
from modbench.suite.errors import SuiteError
from modbench.suite.loader import load_suite
from modbench.suite.selection import select_runs

SUITE = {
    "name": "w",
    "dataset": {"name": "digits", "subset": 4},
    "backbone": {"name": "resnet18", "embedding_dim": 8},
    "train": {"epochs": 1, "batch_size": 16, "lr": 1.0e-3},
    "losses": [{"name": "cross-entropy"}],
}


def _suite(tmp_path, name="suite.yaml", **backbone):
    data = {**SUITE, "backbone": {**SUITE["backbone"], **backbone}}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _key(path):
    return select_runs(str(path)).runs[0].key


def test_relative_path_is_resolved_against_the_suite_folder_and_digested(tmp_path, monkeypatch):
    (tmp_path / "suites" / "w").mkdir(parents=True)
    (tmp_path / "suites" / "w" / "r18.pth").write_bytes(b"some bytes")
    monkeypatch.chdir(tmp_path)  # not the suite's folder
    suite, _ = load_suite(str(_suite(tmp_path / "suites", weights="w/r18.pth")))
    assert suite.backbone.weights == str(tmp_path / "suites" / "w" / "r18.pth")
    assert suite.backbone.weights_digest == hashlib.sha256(b"some bytes").hexdigest()


def test_timms_name_pretrained_file_is_the_same_key(tmp_path):
    (tmp_path / "w.pth").write_bytes(b"x")
    a = select_runs(str(_suite(tmp_path, "a.yaml", weights="w.pth"))).runs[0]
    b = select_runs(str(_suite(tmp_path, "b.yaml", pretrained_file="w.pth"))).runs[0]
    assert a.key == b.key and a.config["backbone"]["weights"] == str(tmp_path / "w.pth")


def _write(path, data: bytes, mtime_ns: int) -> None:
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))  # distinct times even on a coarse-grained file system


def test_the_files_bytes_are_in_the_run_key(tmp_path):
    weights = tmp_path / "w.pth"
    _write(weights, b"first", 10**18)
    suite = _suite(tmp_path, weights="w.pth")
    first = _key(suite)
    assert _key(suite) == first
    _write(weights, b"other", 2 * 10**18)  # the same size: only the bytes differ
    second = _key(suite)
    assert second != first
    _write(weights, b"first", 3 * 10**18)
    assert _key(suite) == first  # the same bytes again: the same run
    written = _suite(tmp_path, "digest.yaml", weights="w.pth", weights_digest="0" * 64)
    assert _key(written) == first  # a digest written in the file is replaced


def test_freeze_bn_is_in_the_run_key_and_defaults_leave_keys_unchanged(tmp_path):
    plain = _key(_suite(tmp_path, "plain.yaml"))
    assert _key(_suite(tmp_path, "off.yaml", freeze_bn=False)) == plain
    assert _key(_suite(tmp_path, "on.yaml", freeze_bn=True)) != plain
    config = select_runs(str(_suite(tmp_path, "plain.yaml"))).runs[0].config
    assert set(config["backbone"]) == {"name", "embedding_dim", "pretrained"}


@pytest.mark.parametrize("backbone, message", [
    ({"weights": "missing.pth"}, "backbone.weights: .*missing.pth does not exist"),
    ({"weights": "."}, "backbone.weights: .* is a folder, not a file"),
    ({"weights": "w.pth", "pretrained": True}, "give one of them"),
    ({"weights": "w.pth", "pretrained_file": "w.pth"}, "give the weights file once"),
])
def test_bad_weights_keys_are_suite_errors(tmp_path, backbone, message):
    (tmp_path / "w.pth").write_bytes(b"x")
    with pytest.raises(SuiteError, match=message):
        load_suite(str(_suite(tmp_path, **backbone)))


def test_the_file_is_hashed_once_per_process(tmp_path, monkeypatch):
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"x" * 1000)
    opened = []
    real_open = open

    def counting_open(path, *args, **kwargs):
        if str(path) == str(weights):
            opened.append(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(locate, "open", counting_open, raising=False)
    suite = _suite(tmp_path, weights="w.pth")
    for _ in range(3):
        load_suite(str(suite))
    assert len(opened) == 1
    os.utime(weights, ns=(1, 1))  # touched: read again
    load_suite(str(suite))
    assert len(opened) == 2


def test_weights_of_a_resolved_config():
    assert weights_file.weights_of({"name": "resnet18"}) is None
    found = weights_file.weights_of({"name": "resnet18", "weights": "/a/b.pth", "weights_digest": "ab"})
    assert str(found.path) == "/a/b.pth" and found.sha256 == "ab"
    hub = weights_file.weights_of({"name": "resnet18", "pretrained": True, "weights_digest": "cd"})
    assert hub.path is None and hub.sha256 == "cd"
    assert weights_file.weights_of({"name": "resnet18", "pretrained": True}) is None


# -- pretrained: true: the hub-cache file torchvision's weights are read from --------------------


def test_hub_file_names_and_folder_are_torchvisions(tmp_path, monkeypatch):
    import torch
    from torchvision import models

    expected = {
        "resnet18": [models.ResNet18_Weights.IMAGENET1K_V1],
        "resnet50": [models.ResNet50_Weights.IMAGENET1K_V2, models.ResNet50_Weights.IMAGENET1K_V1],
        "googlenet": [models.GoogLeNet_Weights.IMAGENET1K_V1],
    }
    assert weights_file.HUB_FILES == {k: [w.url.rsplit("/", 1)[1] for w in v] for k, v in expected.items()}
    for env in ({"TORCH_HOME": str(tmp_path / "th")}, {"XDG_CACHE_HOME": str(tmp_path / "xdg")}, {}):
        monkeypatch.delenv("TORCH_HOME", raising=False)
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        assert weights_file.hub_checkpoint_dir() == pathlib.Path(torch.hub.get_dir()) / "checkpoints"


def test_which_hub_file_pretrained_true_reads_is_in_the_run_key(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    hub = tmp_path / "th" / "hub" / "checkpoints"
    suite = _suite(tmp_path, name="r50.yaml", pretrained=True)
    data = yaml.safe_load(suite.read_text())
    data["backbone"]["name"] = "resnet50"
    suite.write_text(yaml.safe_dump(data))
    absent = select_runs(str(suite)).runs[0]
    assert "weights_digest" not in absent.config["backbone"]  # nothing there: the build names the file
    hub.mkdir(parents=True)
    (hub / "resnet50-0676ba61.pth").write_bytes(b"v1")
    v1 = select_runs(str(suite)).runs[0]
    assert v1.config["backbone"]["weights_digest"] == hashlib.sha256(b"v1").hexdigest()
    (hub / "resnet50-11ad3fa6.pth").write_bytes(b"v2")  # torchvision's V2, read first
    v2 = select_runs(str(suite)).runs[0]
    assert v2.config["backbone"]["weights_digest"] == hashlib.sha256(b"v2").hexdigest()
    assert len({absent.key, v1.key, v2.key}) == 3
