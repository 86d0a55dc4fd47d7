"""Fixtures of the scaling tests; the reference is the tiny suite trained one run after another
in this process, once per test session."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # scaling_helpers (tests/ has no __init__.py)

from scaling_helpers import invoke, results_by_key, subprocess_env, write_suite  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
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


