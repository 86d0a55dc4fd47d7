"""Shared by the reliability and cache tests: real ``python -m modbench`` subprocesses on a tiny
digits suite, and the uninterrupted reference run that every killed or concurrent run must equal
(the ``reference`` fixture, imported by tests/reliability/conftest.py)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import TINY_SUITE

REPO = Path(__file__).resolve().parents[1]
EPOCHS = 3  # long enough to be killed between, during and after epochs


def subprocess_env(**extra: str) -> dict[str, str]:
    """One thread (so that every process computes bit-identical numbers), this checkout first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODBENCH_", "PYTEST"))}
    env.update(
        OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", COLUMNS="200",
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    )
    env.update(extra)
    return env


def modbench_args(command: str, suite: Path, cache: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "modbench", command, "--suite", str(suite), "--cache-dir", str(cache),
            "--device", "cpu", "--epochs", str(EPOCHS), *extra]


KILLPOINTS = REPO / "tests" / "killpoints.py"  # the test-only entry script with kill/pause points


def _args(command: str, suite: Path, cache: Path, extra, env: dict | None) -> list[str]:
    """``python -m modbench ...``, or ``python tests/killpoints.py ...`` when ``env`` sets a
    kill or pause point (HOOK_KILL_AT / HOOK_PAUSE_AT)."""
    args = modbench_args(command, suite, cache, *extra)
    if env and any(k.startswith("HOOK_") for k in env):
        args[1:3] = [str(KILLPOINTS)]
    return args


def run_modbench(command: str, suite: Path, cache: Path, *extra: str, env: dict | None = None,
                 timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        _args(command, suite, cache, extra, env), env=env or subprocess_env(),
        capture_output=True, text=True, timeout=timeout,
    )


def start_modbench(command: str, suite: Path, cache: Path, *extra: str, env: dict | None = None,
                   stderr_file: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        _args(command, suite, cache, extra, env), env=env or subprocess_env(),
        stdout=subprocess.PIPE, text=True,
        stderr=open(stderr_file, "w") if stderr_file else subprocess.PIPE,
    )


def write_suite_file(path: Path, *, name: str = "tiny", labels: list[str] | None = None) -> Path:
    """TINY_SUITE (its losses, or those whose label is in ``labels``, in that order)."""
    data = copy.deepcopy(TINY_SUITE)
    data["name"] = name
    if labels is not None:
        by_label = {loss["label"]: loss for loss in data["losses"]}
        data["losses"] = [by_label[label] for label in labels]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """The uninterrupted run of every loss of the tiny suite, in its own subprocess and cache:
    {label: {"record": JSON row, "history": history.json}}."""
    root = tmp_path_factory.mktemp("reference")
    suite = write_suite_file(root / "tiny.yaml")
    done = run_modbench("compare", suite, root / "cache", "--json")
    assert done.returncode == 0, done.stderr
    out = {}
    for record in json.loads(done.stdout):
        history = json.loads((root / "cache" / "runs" / record["run"] / "history.json").read_text())
        out[record["label"]] = {"record": record, "history": history}
    return out


def learning_curve(history: list[dict]) -> list[tuple]:
    """What of a history must be identical between runs (not the timings)."""
    return [(h["epoch"], h["train_loss"], h["val"]) for h in history]
