"""``dataset.subset_seed: per-seed``: each training seed draws its own training subset (the
seed spread then includes the choice of training images); validation and test images stay the
same; ``fixed`` (default) is the draw of before."""

from __future__ import annotations

import copy

import pytest
import torch

from modbench.datasets import load_splits
from modbench.datasets.splits import subset_indices

from helpers import TINY_SUITE

DIGITS = {"name": "digits", "subset": 5, "val_fraction": 0.1, "split_seed": 0}


def _labels(n_per_class=30, classes=4):
    return torch.arange(classes).repeat_interleave(n_per_class)


def test_the_training_draw_follows_the_seed_and_validation_does_not():
    tr, va = _labels(30), _labels(10)
    fixed = subset_indices(tr, va, 5, 0)
    a = subset_indices(tr, va, 5, 0, train_seed=1)
    b = subset_indices(tr, va, 5, 0, train_seed=2)
    assert torch.equal(a[1], fixed[1]) and torch.equal(b[1], fixed[1])  # the same validation images
    assert not torch.equal(a[0], b[0]) and not torch.equal(a[0], fixed[0])
    assert torch.equal(a[0], subset_indices(tr, va, 5, 0, train_seed=1)[0])  # reproducible
    for idx in (a[0], b[0]):
        assert torch.bincount(tr[idx]).tolist() == [5, 5, 5, 5]  # still N per class


def test_loaded_splits_per_seed_share_validation_and_test_images():
    fixed = load_splits(DIGITS, data_dir=None, download=False)
    per = {s: load_splits({**DIGITS, "subset_seed": "per-seed"}, data_dir=None, download=False, seed=s) for s in (0, 1)}
    assert not torch.equal(per[0].train_images, per[1].train_images)
    for s in (0, 1):
        assert torch.equal(per[s].test_images, fixed.test_images) and torch.equal(per[s].val_images, fixed.val_images)
        assert per[s].sizes() == fixed.sizes() and per[s].mean == fixed.mean
        assert per[s].info["subset_seed"] == s
    # fixed: the loader's own subset, as before
    assert "subset_seed" not in fixed.info


def test_per_seed_is_part_of_the_run_identity_and_needs_a_subset(write_suite, cli, tmp_path):
    from modbench.suite.loader import load_suite
    from modbench.suite.runs import resolve_runs

    data = copy.deepcopy(TINY_SUITE)
    data["seeds"] = [0, 1]
    suite, source = load_suite(str(write_suite(data, "a.yaml")))
    fixed = resolve_runs(suite, source, losses=["CE"])
    assert "subset_seed" not in fixed[0].config["dataset"]
    data["dataset"]["subset_seed"] = "per-seed"
    suite, source = load_suite(str(write_suite(data, "b.yaml")))
    per = resolve_runs(suite, source, losses=["CE"])
    assert per[0].config["dataset"]["subset_seed"] == "per-seed"
    assert {r.key for r in per}.isdisjoint({r.key for r in fixed})
    del data["dataset"]["subset"]
    result = cli("report", "--suite", write_suite(data, "c.yaml"), "--cache-dir", tmp_path / "c")
    assert result.exit_code == 2 and "needs subset" in result.output


@pytest.mark.slow  # trains two tiny runs
def test_each_seed_trains_on_its_own_subset(write_suite, tmp_path):
    from modbench.cache.store import RunStore
    from modbench.engine.runner import Runner
    from modbench.suite.loader import load_suite
    from modbench.suite.runs import resolve_runs

    data = copy.deepcopy(TINY_SUITE)
    data.update(seeds=[0, 1])
    data["train"]["epochs"] = 1
    data["dataset"]["subset_seed"] = "per-seed"
    suite, source = load_suite(str(write_suite(data)))
    runs = resolve_runs(suite, source, losses=["CE"])
    outcomes = Runner(RunStore(tmp_path), device=torch.device("cpu")).train(runs, suite.eval.model_dump(mode="json"))
    assert [o.result["data"]["info"]["subset_seed"] for o in outcomes] == [0, 1]
