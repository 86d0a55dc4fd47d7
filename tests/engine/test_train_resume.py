"""Determinism and resume of the training engine on the CPU."""

from __future__ import annotations

import copy

import pytest
import torch

from modbench.cache.store import RunStore
from modbench.engine.events import Observer
from modbench.engine.runner import Runner
from modbench.suite.loader import load_suite
from modbench.suite.runs import resolve_runs

from helpers import TINY_SUITE


class StopAfter(Observer):
    def __init__(self, epoch: int):
        self.epoch = epoch

    def epoch_end(self, *, epoch, record):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def plan(write_suite, epochs=3, loss="New loss"):
    data = copy.deepcopy(TINY_SUITE)
    data["train"]["epochs"] = epochs
    suite, source = load_suite(str(write_suite(data)))
    return resolve_runs(suite, source, losses=[loss]), suite.eval.model_dump(mode="json")


def runner(root, observer=None):
    return Runner(RunStore(root), device=torch.device("cpu"), observer=observer)


def test_same_seed_gives_bit_identical_metrics(write_suite, tmp_path):
    runs, eval_cfg = plan(write_suite, epochs=2)
    a = runner(tmp_path / "a").train(runs, eval_cfg)[0].result
    b = runner(tmp_path / "b").train(runs, eval_cfg)[0].result
    assert a["metrics"] == b["metrics"]
    ha = RunStore(tmp_path / "a").run(runs[0].key).read_history()
    hb = RunStore(tmp_path / "b").run(runs[0].key).read_history()
    assert [h["train_loss"] for h in ha] == [h["train_loss"] for h in hb]


@pytest.mark.parametrize("loss", ["New loss", "Triplet"])
def test_resume_after_interrupt_matches_uninterrupted_run(write_suite, tmp_path, loss):
    runs, eval_cfg = plan(write_suite, epochs=3, loss=loss)
    reference = runner(tmp_path / "ref").train(runs, eval_cfg)[0].result

    store = RunStore(tmp_path / "int")
    with pytest.raises(KeyboardInterrupt):
        runner(tmp_path / "int", StopAfter(epoch=2)).train(runs, eval_cfg)
    run_dir = store.run(runs[0].key)
    assert run_dir.status() == "partial"
    assert run_dir.load_checkpoint()["epoch"] == 2

    class Starts(Observer):
        start = None

        def run_start(self, run, *, start_epoch, epochs, steps_per_epoch):
            Starts.start = start_epoch

    resumed = runner(tmp_path / "int", Starts()).train(runs, eval_cfg)[0]
    assert Starts.start == 2  # resumed at the third epoch, not from scratch
    assert resumed.status == "trained"
    assert resumed.result["metrics"] == reference["metrics"]
    assert [h["train_loss"] for h in run_dir.read_history()] == [
        h["train_loss"] for h in RunStore(tmp_path / "ref").run(runs[0].key).read_history()
    ]


def test_result_records_what_could_change_a_number(write_suite, tmp_path):
    runs, eval_cfg = plan(write_suite, epochs=1)
    result = runner(tmp_path / "c").train(runs, eval_cfg)[0].result
    assert result["config"] == runs[0].config
    assert {"torch", "scikit-learn", "pytorch-metric-learning", "python"} <= result["versions"].keys()
    assert result["metric_info"]["normalized"] is True
    assert result["device"] == "cpu" and result["epochs"] == 1
    assert set(result["data"]) == {"train", "val", "test", "info"}
    assert result["data"]["info"]["source"] == "sklearn.datasets.load_digits"
