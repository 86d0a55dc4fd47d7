"""``eval --metrics`` adds what it measures to result.json and never removes a stored metric;
on a read-only cache it prints the metrics without writing anything."""

from __future__ import annotations

import copy
import errno
import json

import numpy as np
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


def _means_match(records, metrics, tol=1e-12):
    """Each stored metric is the mean of its per-query records (to ``tol``)."""
    from modbench.metrics import nmi, pairwise_f1

    for j, k in enumerate(records["ks"]):
        if f"recall@{k}" in metrics:
            assert records["hit"][:, j].mean() == pytest.approx(metrics[f"recall@{k}"], abs=tol), k
    assert (records["nn_label"] == records["label"]).mean() == pytest.approx(metrics["p@1"], abs=tol)
    assert records["ap_r"].mean() == pytest.approx(metrics["map@r"], abs=max(tol, 1e-9))
    assert nmi(records["label"], records["cluster"]) == pytest.approx(metrics["nmi"], abs=tol)
    assert pairwise_f1(records["label"], records["cluster"]) == pytest.approx(metrics["f1"], abs=tol)


def test_a_trained_run_stores_per_query_records_of_its_metrics(trained, cache_dir):
    _, run_dir = trained
    result = run_dir.result()
    (records,) = RunStore(cache_dir).load_queries([run_dir.key])
    assert len(records["label"]) == result["data"]["test"] == 359  # the whole digits test split
    assert records["ks"].tolist() == [1, 2, 4, 8]
    _means_match(records, result["metrics"])


def test_eval_backfills_query_records_without_changing_the_metrics(cli, trained, cache_dir):
    """A result from before per-query records (no queries.npz): `eval` recomputes the embeddings
    from the reported checkpoint and adds the records; every stored metric stays as it was."""
    suite, run_dir = trained
    (original,) = RunStore(cache_dir).load_queries([run_dir.key])
    run_dir.queries_file.unlink()
    old = run_dir.result()
    true_map = old["metrics"]["map@r"]
    old["metrics"]["map@r"] = 0.123  # a stored value that evaluating again would not reproduce
    run_dir.write_result(old)  # lists the files present: no queries.npz
    assert "queries.npz" not in run_dir.result()["files"]
    with pytest.raises(Exception, match="modbench eval"):
        RunStore(cache_dir).load_queries([run_dir.key])

    out = cli("eval", "--suite", suite, "--cache-dir", cache_dir, "--device", "cpu", "--json")
    assert out.exit_code == 0, out.stderr
    after = run_dir.result()
    assert after["metrics"] == old["metrics"]  # kept, the sentinel included
    (records,) = RunStore(cache_dir).load_queries([run_dir.key])
    # The embeddings are recomputed from the checkpoint (as `export` does); they agree with the
    # ones measured right after training to float rounding, which can flip a near-tie of two
    # neighbours: the records agree query by query up to such flips.
    assert np.array_equal(original["label"], records["label"]) and np.array_equal(original["ks"], records["ks"])
    assert (original["hit"] == records["hit"]).mean() > 0.99
    assert (original["nn_label"] == records["nn_label"]).mean() > 0.99
    assert np.abs(original["ap_r"] - records["ap_r"]).mean() < 1e-3
    _means_match(records, {**after["metrics"], "map@r": true_map}, tol=0.01)
    # Answered from the cache from now on (nothing to add): the file is not rewritten.
    mtime = run_dir.queries_file.stat().st_mtime_ns
    again = cli("eval", "--suite", suite, "--cache-dir", cache_dir, "--device", "cpu", "--json")
    assert again.exit_code == 0 and run_dir.queries_file.stat().st_mtime_ns == mtime


def test_results_of_another_k_means_n_init_are_measured_again(cli, trained, cache_dir, write_suite):
    """The reuse rule: a result measured with n_init 10 does not answer a suite asking for 3."""
    from modbench.cache.reuse import evaluation_answers

    _, run_dir = trained
    result = run_dir.result()
    assert result["eval"]["kmeans_n_init"] == 10 and result["metric_info"]["kmeans_n_init"] == 10
    assert not evaluation_answers(result, {**result["eval"], "kmeans_n_init": 3})
    assert evaluation_answers(result, result["eval"])
