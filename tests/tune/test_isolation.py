"""The test split is never used while tuning: the digits loader is patched so that its test
images and labels raise on any use. ``tune`` finishes; ``compare`` (the control) trips at once."""

from __future__ import annotations

import pytest

import modbench.datasets.digits as digits
from modbench.cache.store import RunStore

from tune_helpers import tiny_suite


class Poisoned:
    """Stands in for the test tensors: any use at all raises."""

    def __getattr__(self, name):
        raise AssertionError("the test split was used")

    def __len__(self):
        raise AssertionError("the test split was used")


@pytest.fixture
def poisoned_test_split(monkeypatch):
    real = digits.load

    def load(**kw):
        splits = real(**kw)
        splits.test_images = Poisoned()
        splits.test_labels = Poisoned()
        return splits

    monkeypatch.setattr(digits, "load", load)


def test_tuning_never_touches_the_test_split(tmp_path, cli, poisoned_test_split, monkeypatch):
    monkeypatch.chdir(tmp_path)
    suite = tiny_suite(tmp_path / "tiny.yaml", labels=("New loss",), epochs=1)
    cache = tmp_path / "cache"
    result = cli("tune", "--suite", suite, "--cache-dir", cache, "--device", "cpu", "--trials", "2", "--pruner", "none")
    assert result.exit_code == 0, result.stderr
    runs = [r for r in RunStore(cache).all_runs() if r.result_or_none() is not None]
    assert len(runs) == 2 + 2 * 2  # 2 trials, then both (the top 3 of 2) re-trained on 2 further seeds
    for run in runs:
        res = run.result_or_none()
        assert res["config"]["tune"] == {"evaluate_on": "validation"}
        assert res["data"]["test"] == res["data"]["val"]  # what was measured is the validation split
        assert "validation" in res["data"]["info"]["evaluated_on"]
        # ... and its numbers are the validation numbers of the last epoch, as the engine logged them.
        last = run.read_history()[-1]["val"]
        for metric, value in last.items():
            assert res["metrics"][metric] == pytest.approx(value, abs=1e-9)

    control = cli("compare", "--suite", suite, "--cache-dir", cache, "--device", "cpu", "--json")
    assert control.exit_code != 0 and "the test split was used" in control.stderr
