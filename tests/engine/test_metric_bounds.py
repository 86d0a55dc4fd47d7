"""recall@k needs k < N: the engine refuses it with the test set's size before training."""

from __future__ import annotations

import copy

from helpers import TINY_SUITE


def test_recall_at_k_beyond_the_test_set_is_refused_before_training(cli, write_suite, cache_dir):
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = data["losses"][:1]
    data["eval"] = {"metrics": ["nmi", "recall@5000"]}  # digits: 359 test images
    result = cli("compare", "--suite", write_suite(data), "--cache-dir", cache_dir, "--device", "cpu")
    assert result.exit_code == 2, result.stderr
    assert "recall@5000" in result.stderr
    assert len(result.stderr.strip().splitlines()[-1]) < 300
    assert not list(cache_dir.glob("runs/*/checkpoint.pt"))  # nothing trained
