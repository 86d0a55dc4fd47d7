"""User code (a plugin loss or backbone) runs inside modbench but owns neither the results
stream nor the exit status: its ``print`` goes to stderr, so ``--json`` stdout stays valid JSON
(in one process and in ``--jobs`` workers), and ``sys.exit(0)`` inside a loss is a one-line
error naming the plugin (exit 1), never a silent exit 0; ``tune`` then writes no tuned suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

CHATTY = '''
import sys
import torch.nn.functional as F
from torch import nn

print("IMPORTED")


class Chatty(nn.Module):
    family = "softmax"

    def __init__(self, num_classes: int, embedding_dim: int):
        super().__init__()
        print("BUILT")
        self.classifier = nn.Linear(embedding_dim, num_classes)

    def forward(self, embeddings, labels):
        print("FORWARD {")
        return F.cross_entropy(self.classifier(embeddings), labels)


class Quitter(nn.Module):
    family = "softmax"

    def __init__(self, num_classes: int, embedding_dim: int):
        super().__init__()
        self.classifier = nn.Linear(embedding_dim, num_classes)

    def forward(self, embeddings, labels):
        sys.exit(0)
'''


def write_suite(folder: Path, loss: str, **extra) -> Path:
    (folder / "user_losses.py").write_text(textwrap.dedent(CHATTY))
    data = {
        "name": "user-code",
        "dataset": {"name": "digits", "subset": 6},
        "backbone": {"name": "small-cnn", "embedding_dim": 8},
        "train": {"epochs": 1, "batch_size": 32, "optimizer": "adam", "lr": 1.0e-3, "weight_decay": 4.0e-4},
        "seeds": [0, 1],
        "losses": [{"name": f"./user_losses.py:{loss}", "label": loss}],
        **extra,
    }
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_plugins_print_goes_to_stderr_not_into_the_json(cli, tmp_path, cache_dir):
    suite = write_suite(tmp_path, "Chatty")
    done = cli("compare", "--suite", suite, "--cache-dir", cache_dir, "--device", "cpu", "--json")
    assert done.exit_code == 0, done.stderr
    records = json.loads(done.stdout)
    assert [r["status"] for r in records if r.get("seed") is not None] == ["done", "done"]
    assert "FORWARD" in done.stderr and "BUILT" in done.stderr
    report = cli("report", "--suite", suite, "--cache-dir", cache_dir, "--json")
    assert report.exit_code == 0, report.stderr
    json.loads(report.stdout)


def test_sys_exit_in_a_loss_is_a_one_line_error_naming_the_plugin(cli, tmp_path, cache_dir):
    suite = write_suite(tmp_path, "Quitter")
    done = cli("compare", "--suite", suite, "--cache-dir", cache_dir, "--device", "cpu", "--json")
    assert done.exit_code == 1, (done.exit_code, done.stderr)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert "user_losses.py" in errors[0] and "sys.exit" in errors[0] and "Quitter" in errors[0]
    assert "Traceback" not in done.stderr


def _modbench(*args, cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODBENCH_", "PYTEST"))}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "modbench", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


@pytest.mark.slow
def test_jobs_workers_print_to_stderr_and_their_sys_exit_fails(tmp_path):
    suite = write_suite(tmp_path, "Chatty")
    cache = tmp_path / "cache"
    done = _modbench("compare", "--suite", suite, "--cache-dir", cache, "--device", "cpu", "--json", "--jobs", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    json.loads(done.stdout)
    assert "FORWARD" in done.stderr
    suite = write_suite(tmp_path, "Quitter")
    done = _modbench("compare", "--suite", suite, "--cache-dir", cache, "--device", "cpu", "--json", "--jobs", "2", cwd=tmp_path)
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert "sys.exit" in done.stderr and "user_losses.py" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_sys_exit_during_tune_fails_and_writes_no_tuned_suite(tmp_path):
    suite = write_suite(tmp_path, "Quitter")
    cache = tmp_path / "cache"
    out = tmp_path / "tuned.yaml"
    done = _modbench("tune", "--suite", suite, "--cache-dir", cache, "--device", "cpu", "--trials", "2",
                     "--pruner", "none", "--output", out, cwd=tmp_path)
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert "sys.exit" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()
