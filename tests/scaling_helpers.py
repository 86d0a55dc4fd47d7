"""Helpers of the scaling and launch tests (tests/scaling, tests/launch): a tiny two-loss suite
(one softmax-family loss, one pair-based loss), the CLI in-process, child-process environments,
results read from a cache, and the fixtures both folders' conftest.py import."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "name": "scaling-tiny",
    "dataset": {"name": "digits", "subset": 30},
    "backbone": {"name": "small-cnn", "embedding_dim": 32},
    # batch 64 splits into 2 x 32; about 4 steps per epoch on the 270 training images
    "train": {"epochs": 2, "batch_size": 64, "optimizer": "adam", "lr": 1.0e-3, "weight_decay": 4.0e-4},
    "seeds": [0],
    "losses": [
        {"name": "cross-entropy", "label": "CE"},
        # every semi-hard negative: the default draws one at random per pair, and each rank of a
        # distributed run draws its own, which a comparison with one process cannot follow
        {"name": "triplet", "label": "Triplet", "params": {"miner": "semihard", "negatives": "all"}},
    ],
}


def write_suite(folder: Path, data: dict = TINY, name: str = "tiny.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def subprocess_env() -> dict[str, str]:
    """The environment of child processes: this checkout first on the path, one thread each."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    env.pop("MODBENCH_DEBUG", None)
    return env


def invoke(*args) -> "object":
    """The CLI in this process: a Result with exit_code, stdout and stderr."""
    from typer.testing import CliRunner

    from modbench.cli.app import app

    return CliRunner().invoke(app, [str(a) for a in args])


def results_by_key(cache: Path) -> dict[str, dict]:
    runs = cache / "runs"
    return {p.name: json.loads((p / "result.json").read_text()) for p in sorted(runs.iterdir()) if (p / "result.json").exists()}


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """Children inherit OMP_NUM_THREADS=1, and this process trains with one thread too: the same
    arithmetic everywhere, so launched runs can be compared bit for bit with the reference."""
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("PYTHONPATH", subprocess_env()["PYTHONPATH"])
    monkeypatch.delenv("MODBENCH_DEBUG", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """(suite path, cache) with the tiny suite trained sequentially in this process."""
    import torch

    folder = tmp_path_factory.mktemp("reference")
    suite = write_suite(folder)
    cache = folder / "cache"
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    # Session fixtures run before the function-scoped _one_thread: set OMP_NUM_THREADS here too,
    # or the engine's thread set-up picks every core when the caller's environment has none.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_NUM_THREADS", "1")
        try:
            result = invoke("train", "--suite", suite, "--device", "cpu", "--cache-dir", cache)
        finally:
            torch.set_num_threads(before)
    assert result.exit_code == 0, result.stderr
    assert len(results_by_key(cache)) == 2
    return suite, cache


