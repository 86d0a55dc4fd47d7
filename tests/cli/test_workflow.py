"""``outcomes_from_cache``: the cached answer of compare/train/eval, decided without the engine.
It answers only when the Runner would reuse every run as is; anything else goes to the Runner."""

from __future__ import annotations

import json

import pytest

from modbench.cache.store import RunStore
from modbench.cli.workflow import outcomes_from_cache, select_runs


@pytest.fixture
def cached(tiny_suite, cache_dir):
    selection = select_runs(str(tiny_suite))
    store = RunStore(cache_dir)
    for i, run in enumerate(selection.runs):
        run_dir = store.run(run.key)
        run_dir.write_config(run.config)
        run_dir.save_checkpoint({"epoch": 2})
        run_dir.write_result({"key": run.key, "config": run.config, "metrics": {"nmi": i / 10}, "eval": selection.eval_cfg})
    return selection, store


def test_every_run_finished_is_answered(cached):
    selection, store = cached
    outcomes = outcomes_from_cache(selection, store.root)
    assert [o.status for o in outcomes] == ["cached"] * 3
    assert [o.result["metrics"]["nmi"] for o in outcomes] == [0.0, 0.1, 0.2]
    assert [o.run.key for o in outcomes] == [r.key for r in selection.runs]


def test_a_failed_run_is_answered_as_failed(cached):
    selection, store = cached
    run_dir = store.run(selection.runs[1].key)
    run_dir.result_file.unlink()
    run_dir.write_failed({"epoch": 1, "step": 3, "reason": "non-finite loss"})
    outcomes = outcomes_from_cache(selection, store.root)
    assert [o.status for o in outcomes] == ["cached", "failed", "cached"]
    assert outcomes[1].failure["reason"] == "non-finite loss"


def _missing(selection, store):
    store.run(selection.runs[2].key).clear()


def _partial(selection, store):
    store.run(selection.runs[2].key).result_file.unlink()  # a checkpoint to resume from


def _altered_checkpoint(selection, store):
    path = store.run(selection.runs[0].key).checkpoint_file
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # same size: only the full sha256 sees it
    path.write_bytes(bytes(data))


def _other_metrics(selection, store):
    selection.eval_cfg["metrics"] = ["nmi"]


def _altered_result(selection, store):
    path = store.run(selection.runs[1].key).result_file
    record = json.loads(path.read_text())
    record["metrics"]["nmi"] = 0.99
    path.write_text(json.dumps(record))


@pytest.mark.parametrize("damage", [_missing, _partial, _altered_checkpoint, _other_metrics, _altered_result])
def test_anything_the_runner_must_handle_goes_to_the_runner(cached, damage):
    selection, store = cached
    damage(selection, store)
    assert outcomes_from_cache(selection, store.root) is None


def test_a_run_locked_by_another_process_goes_to_the_runner(cached):
    import subprocess
    import sys

    selection, store = cached
    lock_file = store.run(selection.runs[0].key).lock_file
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import fcntl,sys,time; f=open({str(lock_file)!r},'a'); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert outcomes_from_cache(selection, store.root) is None
    finally:
        holder.kill()
        holder.wait()
    assert outcomes_from_cache(selection, store.root) is not None
