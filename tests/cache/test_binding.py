"""Every cache file is bound to its run: the run key sits inside the checksummed content of each
checkpoint, failure record, history record and result, so a file copied in from another run
folder is refused (one line) and the run trained again, never resumed or reported as its own."""

from __future__ import annotations

import copy
import json
import shutil

import pytest

from modbench.cache.store import CorruptFile, RunStore
from modbench.suite.loader import load_suite
from modbench.suite.runs import resolve_runs

from helpers import TINY_SUITE


@pytest.fixture
def two_losses(write_suite):
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = [data["losses"][0], data["losses"][2]]  # CE, Triplet
    data["train"]["epochs"] = 1
    return write_suite(data, "two.yaml")


def keys(suite) -> dict[str, str]:
    return {run.label: run.key for run in resolve_runs(*load_suite(str(suite)))}


def test_a_checkpoint_copied_from_another_run_is_refused_and_the_run_retrained(cli, two_losses, cache_dir):
    first = cli("compare", "--suite", two_losses, "--cache-dir", cache_dir, "--device", "cpu", "--json")
    assert first.exit_code == 0, first.stderr
    own = {r["label"]: r for r in json.loads(first.stdout)}
    k = keys(two_losses)
    store = RunStore(cache_dir)
    triplet, ce = store.run(k["Triplet"]), store.run(k["CE"])
    triplet.result_file.unlink()
    shutil.copy(ce.checkpoint_file, triplet.checkpoint_file)  # the other loss's weights
    with pytest.raises(CorruptFile, match="belongs to run"):
        triplet.load_checkpoint()

    again = cli("compare", "--suite", two_losses, "--cache-dir", cache_dir, "--device", "cpu", "--json")
    assert again.exit_code == 0, again.stderr
    assert f"belongs to run '{k['CE']}', not {k['Triplet']}" in again.stderr
    rows = {r["label"]: r for r in json.loads(again.stdout)}
    # Trained again from scratch: exactly its own numbers, not CE's.
    assert rows["Triplet"] == own["Triplet"]
    assert triplet.load_checkpoint()["key"] == k["Triplet"]


def test_history_and_failure_records_of_another_run_are_refused(tmp_path):
    store = RunStore(tmp_path)
    a, b = store.run("a" * 20), store.run("b" * 20)
    a.path.mkdir(parents=True)
    a.write_history([{"run": a.key, "epoch": 1, "train_loss": 1.0, "val": {}}])
    a.write_failed({"epoch": 1, "step": 2, "reason": "x"})
    b.path.mkdir(parents=True)
    shutil.copy(a.history_file, b.history_file)
    shutil.copy(a.failed_file, b.failed_file)
    assert a.read_history()[0]["epoch"] == 1 and a.failure()["reason"] == "x"
    assert b.read_history() == []
    with pytest.raises(CorruptFile, match="belongs to run"):
        b.failure()
    assert b.status() == "absent"  # neither a failed nor a done run
