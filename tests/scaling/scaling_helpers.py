"""Helpers of the scaling tests: a tiny two-loss suite (one softmax-family loss, one pair-based
loss), the CLI in-process, child-process environments, results read from a cache."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]

TINY = {
    "name": "scaling-tiny",
    "dataset": {"name": "digits", "subset": 30},
    "backbone": {"name": "small-cnn", "embedding_dim": 32},
    # batch 64 splits into 2 x 32; about 4 steps per epoch on the 270 training images
    "train": {"epochs": 2, "batch_size": 64, "optimizer": "adam", "lr": 1.0e-3, "weight_decay": 4.0e-4},
    "seeds": [0],
    "losses": [
        {"name": "cross-entropy", "label": "CE"},
        {"name": "triplet", "label": "Triplet", "params": {"miner": "semihard"}},
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
