"""CPU thread settings: physical cores, a container's quota, and the user's OMP_NUM_THREADS first."""

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


def test_threads_follow_cores_and_quota(monkeypatch, keep_threads):
    for name in backend.THREAD_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(backend, "physical_cores", lambda: 3)
    monkeypatch.setattr(backend, "cpu_quota", lambda: 2)
    assert backend.configure_threads() == 2 == torch.get_num_threads()
    monkeypatch.setattr(backend, "cpu_quota", lambda: None)
    assert backend.configure_threads() == 3


def test_user_thread_setting_wins(monkeypatch, keep_threads):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    monkeypatch.setattr(backend, "physical_cores", lambda: 4)
    monkeypatch.setattr(backend, "cpu_quota", lambda: None)
    assert backend.configure_threads() == 1


def test_cuda_configuration_turns_on_cudnn_autotuning(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    backend.configure(torch.device("cuda"))  # sets a flag only; needs no GPU
    assert torch.backends.cudnn.benchmark is True
