"""Same suite and seed -> identical results on the CPU, also across an interrupted run.

The fixture suite trains small-cnn on CIFAR-10-format fixture files, so the augmented path
(crops, flips) and the class-balanced sampler are covered, not only the plain one.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from modbench.cache.store import RunStore
from modbench.engine.events import Observer
from modbench.engine.runner import Runner
from modbench.suite.loader import load_suite
from modbench.suite.runs import resolve_runs

SUITE = """
name: tiny-cifar
dataset: {{name: cifar10}}
backbone: {{name: small-cnn, embedding_dim: 16}}
train: {{epochs: 2, batch_size: 16, lr: 1.0e-3, sampler: {sampler}}}
eval: {{metrics: [nmi, f1, recall@1, recall@2], val_metrics: [recall@1]}}
seeds: [3]
losses:
  - {{name: improved, params: {{beta: 4, gamma: 1}}}}
"""


@pytest.fixture(scope="module")
def fixture_data(tmp_path_factory):
    from fixture_data import write_cifar10

    root = tmp_path_factory.mktemp("data")
    write_cifar10(root, per_class=6, test_per_class=3)
    return root


def runs_for(tmp_path, sampler="random"):
    path = tmp_path / f"suite-{sampler}.yaml"
    path.write_text(SUITE.format(sampler=sampler))
    suite, source = load_suite(str(path))
    return resolve_runs(suite, source), suite.eval.model_dump(mode="json")


def train(tmp_path, data_dir, cache, observer=None, sampler="random"):
    runs, eval_cfg = runs_for(tmp_path, sampler)
    runner = Runner(RunStore(tmp_path / cache), device=torch.device("cpu"), data_dir=data_dir, observer=observer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "fixture files, not the real dataset"
        (outcome,) = runner.train(runs, eval_cfg)
    return outcome, RunStore(tmp_path / cache).run(runs[0].key)


def weights(run_dir):
    return run_dir.load_checkpoint()["model"]


@pytest.mark.parametrize("sampler", ["random", "m-per-class"])
def test_same_seed_same_metrics_and_weights(tmp_path, fixture_data, sampler):
    a, dir_a = train(tmp_path, fixture_data, "a", sampler=sampler)
    b, dir_b = train(tmp_path, fixture_data, "b", sampler=sampler)
    assert a.status == b.status == "trained"
    assert a.result["metrics"] == b.result["metrics"]
    assert [h["train_loss"] for h in dir_a.read_history()] == [h["train_loss"] for h in dir_b.read_history()]
    wa, wb = weights(dir_a), weights(dir_b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


class StopAfterFirstEpoch(Observer):
    def epoch_end(self, *, epoch, record):
        if epoch == 1:
            raise KeyboardInterrupt


def test_resumed_run_equals_uninterrupted_run(tmp_path, fixture_data):
    whole, dir_whole = train(tmp_path, fixture_data, "whole")
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, fixture_data, "cut", observer=StopAfterFirstEpoch())
    resumed, dir_cut = train(tmp_path, fixture_data, "cut")
    assert resumed.result["metrics"] == whole.result["metrics"]
    ww, wc = weights(dir_whole), weights(dir_cut)
    assert all(torch.equal(ww[k], wc[k]) for k in ww)
