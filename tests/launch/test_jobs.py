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
    assert "job 0 [cpu, 1 thread(s)]" in result.stderr and "job 1 [cpu, 1 thread(s)]" in result.stderr  # a line per job

    again = invoke("train", "--suite", suite, "--device", "cpu", "--cache-dir", cache, "--jobs", "2")
    assert again.exit_code == 0
    assert again.stderr.count("  cached  ") == 2 and "job 0" not in again.stderr  # nothing launched


@pytest.mark.slow  # real subprocesses: ~5 s of CPU each (torch import)
def test_two_jobs_equal_the_sequential_command_at_the_runs_thread_count(tmp_path, monkeypatch):
    """Each --jobs worker trains a run with the run's own thread count (here --threads 2, more
    than each worker's share of the cores), as the sequential command does, so the two give the
    same numbers bit for bit and record the same numerics."""
    from scaling_helpers import write_suite

    threads = 2
    suite = write_suite(tmp_path)
    seq, par = tmp_path / "seq", tmp_path / "par"
    before = torch.get_num_threads()
    try:
        first = invoke("compare", "--suite", suite, "--device", "cpu", "--cache-dir", seq, "--json", "--threads", "2")
    finally:
        torch.set_num_threads(before)
    assert first.exit_code == 0, first.stderr
    second = invoke("compare", "--suite", suite, "--device", "cpu", "--cache-dir", par, "--jobs", "2", "--json",
                    "--threads", "2")
    assert second.exit_code == 0, second.stderr
    ref, got = results_by_key(seq), results_by_key(par)
    assert sorted(ref) == sorted(got) and len(ref) == 2
    for key in ref:
        assert got[key]["cpu_threads"] == ref[key]["cpu_threads"] == threads
        assert got[key]["numerics"] == ref[key]["numerics"]
        assert got[key]["metrics"] == ref[key]["metrics"]
        for a, b in zip(_weights(par, key), _weights(seq, key)):
            assert all(torch.equal(a[name], b[name]) for name in a), key
    assert f"cpu, {threads} thread(s)" in second.stderr  # the job lines show the thread count
