"""A user's suite keeps its name and labels in ``report`` (without ``--suite``) and ``cache
list``: the cache remembers which suites (name, label, file) asked for each run."""

from __future__ import annotations

import json

import yaml

from helpers import TINY_SUITE

LOSS = '''
import torch.nn.functional as F
from torch import nn


class NormFace(nn.Module):
    family = "softmax"

    def __init__(self, num_classes, embedding_dim, scale: float = 16.0):
        super().__init__()
        self.classifier = nn.Linear(embedding_dim, num_classes)
        self.scale = scale

    def forward(self, embeddings, labels):
        return F.cross_entropy(self.scale * F.normalize(self.classifier(embeddings)), labels)
'''


def test_report_and_cache_list_show_a_user_suite_and_its_labels(cli, tmp_path, cache_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_losses.py").write_text(LOSS)
    data = {**TINY_SUITE, "name": "my-study", "dataset": {"name": "digits", "subset": 4},
            "train": {**TINY_SUITE["train"], "epochs": 1},
            "losses": [{"name": "cross-entropy", "label": "Softmax"},
                       {"name": "./my_losses.py:NormFace", "label": "AM-softmax"}]}
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    trained = cli("compare", "--suite", "mine.yaml", "--cache-dir", cache_dir, "--device", "cpu", "--json")
    assert trained.exit_code == 0, trained.stderr
    keys = {r["label"]: r["run"] for r in json.loads(trained.stdout) if r.get("seed") is not None}

    report = cli("report", "--cache-dir", cache_dir, "--json")
    assert report.exit_code == 0, report.stderr
    runs = [r for r in json.loads(report.stdout) if r.get("seed") is not None]
    assert {(r["suite"], r["label"], r["run"]) for r in runs} == {("my-study", label, key) for label, key in keys.items()}
    table = cli("report", "--cache-dir", cache_dir)
    assert "my-study" in table.stdout and "AM-softmax" in table.stdout
    assert "cached runs (" not in table.stdout and "my_losses.py:NormFace" not in table.stdout

    listed = json.loads(cli("cache", "list", "--cache-dir", cache_dir, "--json").stdout)
    assert {(r["run"], r["suite"], r["label"]) for r in listed} == {(key, "my-study", label) for label, key in keys.items()}
    plain = cli("cache", "list", "--cache-dir", cache_dir)
    assert "AM-softmax" in plain.stdout and "my-study" in plain.stdout
