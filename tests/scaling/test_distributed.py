"""The data-parallel hooks of modbench/engine/distributed.py.

The exactness test runs two gloo processes (a helper script) and compares one training step
with the same step in one process: every gradient of the model and of the loss's own parameters
must agree to float32 rounding, for a softmax-family loss (per-rank loss, classifier gradients
averaged) and a pair-based loss (embeddings all-gathered with their gradient, mined globally).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from modbench.cache.store import RunDir
from modbench.engine.distributed import SINGLE, Dist, SetupError
from modbench.errors import UserError
from scaling_helpers import subprocess_env

HERE = Path(__file__).resolve().parent


def test_shards_are_disjoint_and_cover_the_global_batch():
    batch = torch.randperm(96)
    for world in (1, 2, 3, 4):
        shards = [Dist(rank=r, world_size=world).shard(batch) for r in range(world)]
        assert all(len(s) == 96 // world for s in shards)
        assert torch.equal(torch.cat(shards), batch)  # in order, no overlap, nothing left out


def test_a_short_only_batch_loses_its_remainder_equally_on_every_rank():
    batch = torch.arange(7)
    shards = [Dist(rank=r, world_size=2).shard(batch) for r in range(2)]
    assert [s.tolist() for s in shards] == [[0, 1, 2], [3, 4, 5]]


def test_one_process_hooks_change_nothing():
    model = torch.nn.Linear(3, 2)
    x = torch.randn(5, 3)
    assert SINGLE.wrap_model(model) is model
    assert SINGLE.shard(x) is x
    emb, labels = SINGLE.loss_inputs(x, torch.arange(5))
    assert emb is x and labels.tolist() == [0, 1, 2, 3, 4]
    assert SINGLE.agree("partial") == "partial"
    assert SINGLE.for_run(batch_size=7, family="embedding") is SINGLE


def test_the_global_batch_must_split_evenly():
    with pytest.raises(SetupError, match=r"batch_size 100 is not a multiple of the 3 processes"):
        Dist(rank=0, world_size=3).for_run(batch_size=100, family="softmax")
    # The loss family is passed in (the DDP layer knows no loss registry).
    families = {family: Dist(rank=0, world_size=2).for_run(batch_size=64, family=family).gather_embeddings
                for family in ("softmax", "embedding")}
    assert families == {"softmax": False, "embedding": True}


def test_a_batch_that_does_not_split_is_a_user_error_of_the_run(tmp_path, monkeypatch):
    """train_run turns the DDP layer's SetupError into one user-facing line (exit 2)."""
    from modbench.engine import distributed, train

    monkeypatch.setattr(distributed, "current", lambda: Dist(rank=0, world_size=3))
    run = type("Run", (), {"config": {"train": {"batch_size": 100}, "loss": {"name": "cross-entropy"}}})()
    data = type("Data", (), {"device": torch.device("cpu")})()
    with pytest.raises(UserError, match="not a multiple of the 3 processes"):
        train.train_run(run, RunDir(tmp_path / "run"), data, eval_cfg={}, numerics={"device": "cpu"})


def test_the_ddp_layer_is_a_leaf_that_imports_only_torch():
    import ast

    import modbench.engine.distributed as module

    tree = ast.parse(Path(module.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert "modbench" not in imported and "torch" in imported


def test_ranks_other_than_0_read_the_cache_but_never_write_it(tmp_path):
    real = RunDir(tmp_path / "run")
    real.write_history([{"epoch": 1}])
    other = real.read_only()
    other.write_history([{"epoch": 2}])
    other.write_result({"metrics": {}})
    other.save_checkpoint({"epoch": 2})
    other.write_failed({"reason": "x"})
    other.clear()
    assert real.read_history() == [{"epoch": 1}] and other.read_history() == [{"epoch": 1}]
    assert not real.result_file.exists() and not real.checkpoint_file.exists() and not real.failed_file.exists()
    assert other.status() == "absent"


@pytest.mark.slow  # real subprocesses: ~5 s of CPU each (torch import)
def test_one_step_on_two_processes_equals_one_step_on_one(tmp_path):
    out = tmp_path / "report"
    proc = subprocess.run(
        [sys.executable, str(HERE / "ddp_grad_check.py"), str(out)],
        env=subprocess_env(), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for rank in (0, 1):
        report = json.loads(Path(f"{out}.{rank}").read_text())
        assert set(report) == {"cross-entropy", "triplet", "improved"}
        for name, r in report.items():
            assert r["shard"] == 8  # each rank's slice of the global batch of 16
            assert r["gathered"] == (name == "triplet")
            assert r["loss_seen"] == (16 if name == "triplet" else 8)
            # float32 rounding of sums taken in another order; a wrong scale or a missing
            # gradient average would be off by the gradients' own size (~0.05-0.3)
            assert r["max_grad_diff"] <= 1e-6, (name, r)
            assert r["mean_loss"] == pytest.approx(r["ref_loss"], rel=1e-6, abs=1e-7)
