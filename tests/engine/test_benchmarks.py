"""The throughput benchmark runs and times modbench's own epoch function (not a copy).

Tiny settings (one round of one epoch, no DataLoader workers); no timing is asserted.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def load_benchmark(monkeypatch):
    spec = importlib.util.spec_from_file_location("train_speed", ROOT / "benchmarks" / "train_speed.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "train_speed", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # the benchmark's three pipelines, timed rounds included
def test_train_speed_measures_the_engine_loop(monkeypatch):
    from modbench.engine import loop, train

    bench = load_benchmark(monkeypatch)
    assert bench.run_epoch is loop.run_epoch is train.run_epoch  # (b) is the loop train_run runs
    calls = []
    real = loop.run_epoch

    def counting(*args, **kwargs):
        calls.append(kwargs["epoch"])
        return real(*args, **kwargs)

    monkeypatch.setattr(bench, "run_epoch", counting)
    case = bench.Case("small-cnn/digits", "small-cnn", 16, 128, 10, epochs=1, warmup_epochs=1)
    result = bench.measure(case, torch.device("cpu"), rounds=1, num_workers=0, compile=False)
    assert calls == [0, 1]  # warm-up epoch, then the measured one, with fresh epoch seeds
    for key in ("limit_img_s", "modbench_img_s", "conventional_img_s"):
        assert result[key] > 0
    assert result["case"] == "small-cnn/digits" and result["device"] == "cpu"
    assert result["steps_per_round"] == 10  # digits: 1,293 training images, batch 128
