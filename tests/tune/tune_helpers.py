"""Helpers of the tuning tests (imported as ``tune_helpers``): a tiny digits suite (two losses, 1-2 epochs), the tune command
in this process or as a subprocess, and the studies read back from the SQLite storage."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import yaml

from helpers import TINY_SUITE

REPO = Path(__file__).resolve().parents[2]


def tiny_suite(path: Path, *, labels=("CE", "New loss"), epochs: int = 2, **extra) -> Path:
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = [loss for loss in data["losses"] if loss["label"] in labels]
    data["train"]["epochs"] = epochs
    data.update(extra)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODBENCH_", "PYTEST"))}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", COLUMNS="200",
               PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    env.update(extra)
    return env


def tune_args(suite: Path, cache: Path, *extra) -> list[str]:
    return [sys.executable, "-m", "modbench", "tune", "--suite", str(suite), "--cache-dir", str(cache),
            "--device", "cpu", *map(str, extra)]


def run_tune(suite: Path, cache: Path, *extra, env=None, cwd=None, timeout=300, hooked=False) -> subprocess.CompletedProcess:
    """``hooked``: through tests/killpoints.py (HOOK_KILL_AT=POINT:N in ``env``)."""
    args = tune_args(suite, cache, *extra)
    if hooked:
        args[1:3] = [str(REPO / "tests" / "killpoints.py")]
    return subprocess.run(args, env=env or subprocess_env(), cwd=cwd, capture_output=True, text=True, timeout=timeout)


def studies(cache: Path, suite_name: str = "tiny", url: str | None = None) -> dict[str, list]:
    """{loss label: the study's trials} from ``<cache>/tune/<suite>.db`` (or the storage ``url``)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = url or f"sqlite:///{cache / 'tune' / (suite_name + '.db')}"
    out = {}
    for summary in optuna.get_all_study_summaries(storage=url):
        label = summary.study_name.split(" | ")[1]
        out[label] = optuna.load_study(study_name=summary.study_name, storage=url).get_trials(deepcopy=True)
    return out
