"""Process settings: physical cores, and numerics taken from the run (never from OMP_NUM_THREADS)."""

from __future__ import annotations

import os

import pytest
import torch

from modbench.engine import backend


@pytest.fixture
def keep_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_physical_cores_is_within_the_cpus():
    assert 1 <= backend.physical_cores() <= (os.cpu_count() or 1)


def test_numerics_come_from_the_run_not_the_environment(monkeypatch, keep_threads):
    """The thread count a run computes with is its configuration's, in any shell."""
    config = {"train": {"cpu_threads": 3}}
    for env in ("1", "7", None):
        if env is None:
            monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        else:
            monkeypatch.setenv("OMP_NUM_THREADS", env)
        backend.configure(torch.device("cpu"))
        assert backend.numerics(torch.device("cpu"), config)["cpu_threads"] == 3
    assert backend.numerics(torch.device("cpu"), {"train": {}})["cpu_threads"] == 1  # the default


def test_cuda_configuration_turns_on_cudnn_autotuning(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    backend.configure(torch.device("cuda"))  # sets a flag only; needs no GPU
    assert torch.backends.cudnn.benchmark is True
