"""``--jobs 2``: the suite's runs in two worker processes give exactly the results of training
them one after another (runs are independent and seeded; same threads, so bit-identical)."""

from __future__ import annotations

import json

import pytest
import torch

from scaling_helpers import invoke, results_by_key


def _weights(cache, key):
    state = torch.load(cache / "runs" / key / "checkpoint.pt", map_location="cpu", weights_only=True)
    return state["model"], state["loss"]


@pytest.mark.slow  # real subprocesses: ~5 s of CPU each (torch import)
def test_two_jobs_equal_one_run_after_another(reference, tmp_path):
    suite, ref_cache = reference
    cache = tmp_path / "cache"
    result = invoke("compare", "--suite", suite, "--device", "cpu", "--cache-dir", cache, "--jobs", "2", "--json")
    assert result.exit_code == 0, result.stderr
    ref, got = results_by_key(ref_cache), results_by_key(cache)
    assert sorted(got) == sorted(ref)  # same run keys, same cache layout
    rows = {row["run"]: row for row in json.loads(result.stdout)}  # the parent read them back
    assert sorted(rows) == sorted(ref)
    for key in ref:
        assert got[key]["metrics"] == ref[key]["metrics"]
        assert {m: rows[key][m] for m in ref[key]["metrics"]} == ref[key]["metrics"]
        assert got[key]["world_size"] == 1
        history = lambda c: [e["train_loss"] for e in json.loads((c / "runs" / key / "history.json").read_text())]  # noqa: E731
        assert history(cache) == history(ref_cache)
        for a, b in zip(_weights(cache, key), _weights(ref_cache, key)):
            assert a.keys() == b.keys()
            assert all(torch.equal(a[name], b[name]) for name in a), key
    assert "job 0 [cpu]" in result.stderr and "job 1 [cpu]" in result.stderr  # a line per job

    again = invoke("train", "--suite", suite, "--device", "cpu", "--cache-dir", cache, "--jobs", "2")
    assert again.exit_code == 0
    assert again.stderr.count("  cached  ") == 2 and "job 0" not in again.stderr  # nothing launched
