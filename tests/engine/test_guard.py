"""User code cannot lie about a run's numerics (engine/guard.py): a loss that changes the CPU
thread count or torch's default dtype is refused in one line, the settings are restored, and
the next run in the same process trains as it would alone."""

from __future__ import annotations

import copy

import pytest
import torch

from helpers import TINY_SUITE

from modbench.cache.store import RunStore
from modbench.engine.runner import Runner
from modbench.errors import UserError
from modbench.suite.selection import select_runs

LOSS = '''
import torch


class Meddling(torch.nn.Module):
    def __init__(self, num_classes, embedding_dim):
        super().__init__()
        {call}

    def forward(self, embeddings, labels):
        return embeddings.pow(2).mean()
'''


@pytest.fixture
def keep_globals():
    threads, dtype = torch.get_num_threads(), torch.get_default_dtype()
    yield
    torch.set_num_threads(threads)
    torch.set_default_dtype(dtype)


def _runs(tmp_path, write_suite, call):
    (tmp_path / "meddling.py").write_text(LOSS.replace("{call}", call))
    data = copy.deepcopy(TINY_SUITE)
    data["train"]["epochs"] = 1
    data["losses"] = [{"name": f"{tmp_path / 'meddling.py'}:Meddling", "label": "meddling"},
                      {"name": "cross-entropy", "label": "CE"}]
    selection = select_runs(str(write_suite(data, "meddling.yaml")))
    return selection.runs, selection.eval_cfg


@pytest.mark.parametrize("call,said", [
    ("torch.set_num_threads(3)", "CPU thread count to 3"),
    ("torch.set_default_dtype(torch.float64)", "default dtype to torch.float64"),
])
def test_a_loss_that_changes_global_state_is_refused_and_the_next_run_trains(
        call, said, tmp_path, write_suite, cache_dir, keep_globals):
    (meddling, plain), eval_cfg = _runs(tmp_path, write_suite, call)
    runner = Runner(RunStore(cache_dir), device=torch.device("cpu"))
    with pytest.raises(UserError, match=said) as caught:
        runner.train([meddling], eval_cfg)
    assert "\n" not in str(caught.value)
    assert torch.get_num_threads() == 1 and torch.get_default_dtype() == torch.float32  # restored
    assert RunStore(cache_dir).run(meddling.key).result_or_none() is None  # nothing recorded
    (outcome,) = runner.train([plain], eval_cfg)  # the next run of the same process
    assert outcome.status == "trained"
    assert outcome.result["numerics"]["cpu_threads"] == 1


def test_a_run_starts_from_its_own_settings_whatever_ran_before(tmp_path, write_suite, cache_dir, keep_globals):
    runs, eval_cfg = _runs(tmp_path, write_suite, "pass")
    (plain,) = [r for r in runs if r.label == "CE"]
    torch.set_default_dtype(torch.float64)  # left behind by earlier code in this process
    torch.set_num_threads(2)
    runner = Runner(RunStore(cache_dir), device=torch.device("cpu"))
    (outcome,) = runner.train([plain], eval_cfg)
    assert torch.get_default_dtype() == torch.float32
    assert outcome.status == "trained" and outcome.result["numerics"]["cpu_threads"] == 1
