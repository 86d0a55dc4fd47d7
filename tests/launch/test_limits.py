"""Bounds of ``--jobs``, ``--threads`` and OMP_NUM_THREADS: past them, one line and exit 2
before anything starts (never thousands of processes or threads, never a traceback)."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import TINY_SUITE
from modbench.launch import limits

REPO = Path(__file__).resolve().parents[2]


def test_the_bounds_follow_the_machine(monkeypatch):
    monkeypatch.setattr(limits, "usable_cpus", lambda: 2)
    assert limits.max_jobs() == 8 and limits.max_threads() == 64
    monkeypatch.setattr(limits, "usable_cpus", lambda: 1000)
    assert limits.max_jobs() == 256 and limits.max_threads() == 1024
    assert limits.jobs_problem(256) is None and "at most 256" in limits.jobs_problem(257)
    assert limits.threads_problem(1024) is None and "at most 1024" in limits.threads_problem(1025)


@pytest.fixture
def one_loss(write_suite):
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = data["losses"][:1]
    data["train"]["epochs"] = 1
    return write_suite(data, "one.yaml")


@pytest.mark.parametrize("flag, value", [
    ("--threads", "99999999999999999999"), ("--threads", "100000"), ("--jobs", "100000"), ("--jobs", "99999999999999999999"),
])
def test_too_many_jobs_or_threads_is_one_line_exit_2(cli, one_loss, cache_dir, flag, value):
    done = cli("compare", "--suite", one_loss, "--cache-dir", cache_dir, "--device", "cpu", flag, value)
    assert done.exit_code == 2, (done.exit_code, done.stderr)
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error:") and flag in done.stderr
    assert "at most" in done.stderr
    assert not (cache_dir / "runs").exists() or not any((cache_dir / "runs").iterdir())


def test_a_huge_omp_num_threads_is_refused_at_once(one_loss, tmp_path):
    """Before the bound, torch started 5000 threads and the command did not end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODBENCH_", "PYTEST"))}
    env.update(OMP_NUM_THREADS="5000", PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "modbench", "compare", "--suite", str(one_loss), "--cache-dir",
                           str(tmp_path / "c"), "--device", "cpu"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "OMP_NUM_THREADS=5000" in done.stderr
