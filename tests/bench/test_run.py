"""``outcomes_from_cache``: the cached answer of compare/train/eval, decided without the engine.
It answers only when the Runner would reuse every run as is; anything else goes to the Runner."""

from __future__ import annotations

import json

import pytest

from helpers import CPU_1_THREAD, write_finished

from modbench.cache.store import RunStore
from modbench.bench.run import device_type_without_torch, outcomes_from_cache
from modbench.suite.selection import select_runs


@pytest.fixture
def cached(tiny_suite, cache_dir, monkeypatch):
    selection = select_runs(str(tiny_suite))
    store = RunStore(cache_dir)
    for i, run in enumerate(selection.runs):
        write_finished(store, run, selection.eval_cfg, {m: i / 10 for m in selection.eval_cfg["metrics"]})
    return selection, store


def answer(selection, store, **kw):
    return outcomes_from_cache(selection, store.root, **{"device": "cpu", **kw})


def test_every_run_finished_is_answered(cached):
    selection, store = cached
    outcomes = answer(selection, store)
    assert [o.status for o in outcomes] == ["cached"] * 3
    assert [o.result["metrics"]["nmi"] for o in outcomes] == [0.0, 0.1, 0.2]
    assert [o.run.key for o in outcomes] == [r.key for r in selection.runs]


def test_a_failed_run_is_answered_as_failed(cached):
    selection, store = cached
    run_dir = store.run(selection.runs[1].key)
    run_dir.result_file.unlink()
    run_dir.write_failed({"epoch": 1, "step": 3, "reason": "non-finite loss"})
    outcomes = answer(selection, store)
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
    selection.eval_cfg["metrics"] = [*selection.eval_cfg["metrics"], "recall@16"]  # not stored


def _altered_result(selection, store):
    path = store.run(selection.runs[1].key).result_file
    record = json.loads(path.read_text())
    record["metrics"]["nmi"] = 0.99
    path.write_text(json.dumps(record))


@pytest.mark.parametrize("damage", [_missing, _partial, _altered_checkpoint, _other_metrics, _altered_result])
def test_anything_the_runner_must_handle_goes_to_the_runner(cached, damage):
    selection, store = cached
    damage(selection, store)
    assert answer(selection, store) is None


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
        assert answer(selection, store) is None
    finally:
        holder.kill()
        holder.wait()
    assert answer(selection, store) is not None


def _other_numerics(selection, store):
    run = selection.runs[0]
    metrics = {m: 0.0 for m in selection.eval_cfg["metrics"]}
    write_finished(store, run, selection.eval_cfg, metrics, numerics={**CPU_1_THREAD, "cpu_threads": 2})


@pytest.mark.parametrize("damage", [_other_numerics])
def test_a_result_of_other_numerics_goes_to_the_runner(cached, damage):
    selection, store = cached
    damage(selection, store)
    assert answer(selection, store) is None


def test_numerics_not_known_without_torch_go_to_the_runner(cached, monkeypatch):
    selection, store = cached
    assert answer(selection, store, device="cuda") is None
    for env in ("7", None):  # the thread count is the run's (default 1), in any shell
        if env is None:
            monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        else:
            monkeypatch.setenv("OMP_NUM_THREADS", env)
        assert answer(selection, store) is not None


def test_device_type_without_torch(monkeypatch):
    import modbench.bench.run as workflow

    assert device_type_without_torch("cpu") == "cpu"
    assert device_type_without_torch("cuda") is None
    monkeypatch.setattr(workflow, "_gpu_may_be_present", lambda: True)
    assert device_type_without_torch("auto") is None
    monkeypatch.setattr(workflow, "_gpu_may_be_present", lambda: False)
    assert device_type_without_torch("auto") == "cpu"
