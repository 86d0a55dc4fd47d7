"""``tune --jobs N`` starts no more worker processes than there are trials left to run: none for
a finished study, one for one trial left."""

from __future__ import annotations

import pytest

from tune_helpers import tiny_suite

from modbench.bench import tune as bench_tune
from modbench.tune import session as tune_session


@pytest.fixture
def started(monkeypatch):
    calls = []
    monkeypatch.setattr(bench_tune, "tune_in_processes", lambda spec, jobs: calls.append(jobs) or 0)
    return calls


def _fill(suite, cache, trials: int, done: int) -> None:
    """``done`` complete trials in each study of the suite, as `tune` would name them."""
    spec = tune_session.TuneSpec(suite_ref=str(suite), trials=trials, pruner="none", cache_root=str(cache), device="cpu")
    session = tune_session.open_session(spec)
    for target in session.targets:
        study = session.study(target)
        for _ in range(done):
            trial = study.ask()
            study.tell(trial, 0.5)


@pytest.mark.parametrize("done, expected", [(2, []), (1, [2])])
def test_no_more_workers_than_trials_left(cli, tmp_path, started, done, expected):
    suite = tiny_suite(tmp_path / "tiny.yaml", epochs=1)
    cache = tmp_path / "cache"
    _fill(suite, cache, trials=2, done=done)
    result = cli("tune", "--suite", suite, "--cache-dir", cache, "--device", "cpu", "--trials", "2",
                 "--pruner", "none", "--jobs", "4", "--output", tmp_path / "tuned.yaml")
    assert started == expected, result.stderr
