"""``eval --metrics`` adds what it measures to result.json and never removes a stored metric;
on a read-only cache it prints the metrics without writing anything."""

from __future__ import annotations

import copy
import errno
import json

import pytest

from modbench.cache.atomic import CacheWriteError
from modbench.cache.lock import RunLock
from modbench.cache.store import RunStore

from helpers import TINY_SUITE


@pytest.fixture
def trained(cli, write_suite, cache_dir):
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = data["losses"][:1]
    data["train"]["epochs"] = 1
    suite = write_suite(data, "one.yaml")
    done = cli("compare", "--suite", suite, "--cache-dir", cache_dir, "--device", "cpu", "--json")
    assert done.exit_code == 0, done.stderr
    (run_dir,) = RunStore(cache_dir).all_runs()
    return suite, run_dir


def test_eval_of_one_metric_keeps_the_others(cli, trained, cache_dir):
    suite, run_dir = trained
    before = run_dir.result()["metrics"]
    assert {"nmi", "recall@1", "f1"} <= set(before)
    out = cli("eval", "--suite", suite, "--cache-dir", cache_dir, "--device", "cpu", "--metrics", "nmi", "--json")
    assert out.exit_code == 0, out.stderr
    assert run_dir.result()["metrics"] == before  # nothing removed, nothing re-measured
    row = json.loads(out.stdout)[0]
    assert row["nmi"] == before["nmi"]

    # A metric that is not stored is measured and added; the others stay as they were.
    added = cli("eval", "--suite", suite, "--cache-dir", cache_dir, "--device", "cpu", "--metrics", "recall@16,nmi", "--json")
    assert added.exit_code == 0, added.stderr
    after = run_dir.result()["metrics"]
    assert set(after) == set(before) | {"recall@16"}
    assert {k: after[k] for k in before} == before
    assert 0 <= after["recall@16"] <= 1 and after["recall@16"] >= before["recall@8"]
    assert "recall@16" in run_dir.result()["eval"]["metrics"]


def test_eval_on_a_read_only_cache_prints_without_writing(cli, trained, cache_dir, monkeypatch):
    suite, run_dir = trained
    raw = run_dir.result_file.read_bytes()

    def read_only(self, seconds):
        raise CacheWriteError(self.path, OSError(errno.EROFS, "Read-only file system"))

    monkeypatch.setattr(RunLock, "acquire_within", read_only)
    out = cli("eval", "--suite", suite, "--cache-dir", cache_dir, "--device", "cpu", "--metrics", "recall@16", "--json")
    assert out.exit_code == 0, out.stderr
    assert 0 <= json.loads(out.stdout)[0]["recall@16"] <= 1
    assert run_dir.result_file.read_bytes() == raw  # nothing written
