"""``modbench tune`` end to end on a tiny digits suite: the tuned suite it writes, the same
command again (no new trial), ``compare`` on the tuned suite, and ``report`` showing the trials."""

from __future__ import annotations

import json

import pytest
import yaml
from optuna.trial import TrialState

from modbench.cache.store import RunStore
from modbench.suite.loader import load_suite

from tune_helpers import studies, tiny_suite

TRIALS = 3


def _tune(cli, suite, cache, *extra):
    return cli("tune", "--suite", suite, "--cache-dir", cache, "--device", "cpu", "--trials", str(TRIALS), *extra)


@pytest.mark.slow  # a whole study per loss, then the tuned suite trained
def test_tune_writes_the_tuned_suite_and_the_same_command_runs_no_new_trial(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    suite = tiny_suite(tmp_path / "tiny.yaml", epochs=2)
    cache = tmp_path / "cache"

    first = _tune(cli, suite, cache, "--reselect-top", "0")  # the search's best as it is (tests/tune/test_reselect.py)
    assert first.exit_code == 0, first.stderr
    found = studies(cache)
    assert sorted(found) == ["CE", "New loss"]
    for trials in found.values():  # the same budget for every loss
        assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials) == TRIALS

    tuned_path = tmp_path / "tiny-tuned.yaml"
    data = yaml.safe_load(tuned_path.read_text())
    tuned, _ = load_suite(str(tuned_path))  # a valid suite
    assert tuned.tuned.trials == TRIALS and tuned.tuned.metric == "map@r" and tuned.tuned.split == "validation"
    assert tuned.train.epochs == 2 and tuned.seeds == [1]  # never the trials' seed 0
    for entry in data["losses"]:
        trials = [t for t in found[entry["label"]] if t.state == TrialState.COMPLETE]
        best = max(trials, key=lambda t: t.value)  # independent of modbench's own choice
        assert entry["lr"] == best.params["lr"]
        for name, value in best.params.items():
            if name != "lr":
                assert entry["params"][name] == value
        assert data["tuned"]["studies"][entry["label"]]["best_value"] == best.value

    store = RunStore(cache)
    before = {r.key: r.path.joinpath("history.json").stat().st_mtime_ns for r in store.all_runs()}
    assert all(r.read_config()["tune"] == {"evaluate_on": "validation"} for r in store.all_runs())

    again = _tune(cli, suite, cache, "--reselect-top", "0")
    assert again.exit_code == 0, again.stderr
    assert "trial" not in "".join(line for line in again.stderr.splitlines() if line.startswith(("CE:", "New loss:")))
    assert {label: len(t) for label, t in studies(cache).items()} == {label: len(t) for label, t in found.items()}
    assert {r.key: r.path.joinpath("history.json").stat().st_mtime_ns for r in store.all_runs()} == before
    assert yaml.safe_load(tuned_path.read_text()) == data

    # compare on the tuned suite: ordinary runs (no trial marker), the tuned settings, marked tables.
    final = cli("compare", "--suite", tuned_path, "--cache-dir", cache, "--device", "cpu", "--markdown")
    assert final.exit_code == 0, final.stderr
    assert final.stdout.count(f"tuned: {TRIALS} trials per loss on validation (map@r)") >= 2
    finals = [r for r in store.all_runs() if r.key not in before]
    assert len(finals) == 2
    lrs = {e["label"]: e["lr"] for e in data["losses"]}
    for run in finals:
        config = run.read_config()
        assert "tune" not in config
        assert config["train"]["lr"] in lrs.values()

    report = cli("report", "--suite", suite, "--cache-dir", cache, "--json")
    assert report.exit_code == 0, report.stderr
    shown = {record.get("run") for record in json.loads(report.stdout)}
    assert set(before) <= shown  # every trial is an ordinary cached run, shown by report


def test_output_and_loss_flags(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    suite = tiny_suite(tmp_path / "tiny.yaml", epochs=1)
    out = tmp_path / "elsewhere" / "mine.yaml"
    out.parent.mkdir()
    result = cli("tune", "--suite", suite, "--cache-dir", tmp_path / "cache", "--device", "cpu", "--trials", "2",
                 "--loss", "CE", "--metric", "recall@1", "--output", out)
    assert result.exit_code == 0, result.stderr
    data = yaml.safe_load(out.read_text())
    assert [e["label"] for e in data["losses"]] == ["CE"] and data["tuned"]["metric"] == "recall@1"
    assert not (tmp_path / "tiny-tuned.yaml").exists()
    refused = cli("tune", "--suite", out, "--cache-dir", tmp_path / "cache")
    assert refused.exit_code == 2 and "tune its source" in refused.stderr


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite+pysqlite:///:memory:?cache=shared"])
def test_in_memory_storage_with_several_workers_is_refused(tmp_path, cli, url):
    """Each worker process would hold its own in-memory study: trials twice, the budget wrong."""
    suite = tiny_suite(tmp_path / "tiny.yaml", epochs=1)
    result = _tune(cli, suite, tmp_path / "cache", "--storage", url, "--jobs", "2")
    assert result.exit_code == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "in-memory" in errors[0]
    assert not (tmp_path / "tiny-tuned.yaml").exists()


def test_in_memory_storage_urls():
    from modbench.tune.study import in_memory_storage

    assert in_memory_storage("sqlite://") and in_memory_storage("sqlite:///:memory:")
    assert not in_memory_storage("sqlite:///tune.db") and not in_memory_storage("sqlite:////abs/t.db")
    assert not in_memory_storage("postgresql://u@h/db")


@pytest.mark.parametrize(
    "flags, words",
    [(["--metric", "map@q"], "unknown metric 'map@q'"), (["--pruner", "hyper"], "--pruner hyper"),
     (["--loss", "Triplett"], "Triplett"), (["--trials", "0"], "--trials")],
)
def test_bad_flags_are_one_line_errors(tmp_path, cli, flags, words):
    result = cli("tune", "--suite", tiny_suite(tmp_path / "s.yaml"), "--cache-dir", tmp_path / "cache", *flags)
    assert result.exit_code == 2 and words in result.stderr and len(result.stderr.strip().splitlines()) == 1
