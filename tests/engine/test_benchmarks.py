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


def test_bf16_benchmark_times_the_engine_step_in_each_precision(monkeypatch):
    """benchmarks/bf16_startup.py builds its step with modbench's StepParts: bf16 autocast on
    for bf16 only, and its bf16 step computes in bfloat16 inside the network."""
    spec = importlib.util.spec_from_file_location("bf16_startup", ROOT / "benchmarks" / "bf16_startup.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bf16_startup", bench)
    spec.loader.exec_module(bench)
    assert not bench.make_parts("float32").amp
    parts = bench.make_parts("bf16")
    assert parts.amp
    dtypes = []
    parts.model.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    bench.step(parts, torch.randn(4, 1, 28, 28), torch.arange(4))
    assert dtypes == [torch.bfloat16]


def _load(monkeypatch, name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def test_tune_cost_claims_a_cost_only_when_every_one_of_three_seeds_shows_it(monkeypatch):
    bench = _load(monkeypatch, "tune_cost")

    def arm(pruner, seed, best):
        return {"pruner": pruner, "sampler_offset": seed, "losses": {"A": {"best_value": best}}}

    none = [arm("none", s, 0.5) for s in range(3)]
    always = bench.claims(none + [arm("asha", s, 0.4) for s in range(3)], "map@r")
    assert "costs A its best trial in all 3 seeds" in always[-1]
    mixed = bench.claims(none + [arm("asha", 0, 0.4), arm("asha", 1, 0.6), arm("asha", 2, 0.4)], "map@r")
    assert "no consistent cost: lower in 2 of 3 seeds" in mixed[-1]
    two = bench.claims(none[:2] + [arm("asha", s, 0.4) for s in range(2)], "map@r")
    assert "no claim: 2 seed(s), at least 3 needed" in two[-1]


def test_eval_tuning_selection_variants_pick_the_same_sorted_candidates(monkeypatch):
    """Every selection variant benchmarks/eval_tuning.py times returns the k smallest entries of
    each row in order (the contract of knn_points._smallest), on the blocks the search sees."""
    bench = _load(monkeypatch, "eval_tuning")
    g = torch.Generator().manual_seed(0)
    v = torch.randn(50, 3_000, generator=g)
    ref = torch.sort(v, dim=1).values[:, :400]
    for name, (select, _) in bench.VARIANTS.items():
        vals, pos = select(v, 400, True)
        assert torch.equal(vals, ref), name
        assert torch.equal(torch.gather(v, 1, pos), vals), name
