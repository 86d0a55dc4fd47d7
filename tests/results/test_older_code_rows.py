"""A cache that also holds runs of older code (the cache of a modbench that was since upgraded):
the suite's rows on this code keep their labels, so the suite's baseline is found and verdicts
pair this code's runs only; the older code's runs are rows of their own, labelled by the code
that trained them, never pooled or paired with this code's runs, and stderr says so.
Caches are written by hand (no training)."""

from __future__ import annotations

import json
from types import SimpleNamespace

from typer.testing import CliRunner

from modbench.cache.store import RunStore
from modbench.cli.app import app
from results.factory import METRICS, suite_runs, write_cached

OLD_DIGEST = "0f9e8d7c6b5a4f3e2d1c0b9a"


def _older(run):
    """The same configuration trained by other code: another digest, so another run key."""
    config = json.loads(json.dumps(run.config))
    config["code"] = {**config.get("code", {}), "digest": OLD_DIGEST}
    return SimpleNamespace(key=("e" + run.key)[:len(run.key)], config=config)


def _cache(tmp_path, *, current: bool):
    store = RunStore(tmp_path / "cache")
    for run in suite_runs("digits-verdict"):
        shift = {"Cross-entropy": 0.0, "New loss": -0.2, "Cross-entropy x 2": 0.001}[run.label]
        metrics = {k: v + shift + run.seed / 1000 for k, v in METRICS.items()}
        if current:
            write_cached(store, run, metrics)
        write_cached(store, _older(run), {k: v - 0.05 for k, v in metrics.items()})
    return store


def _report(store):
    result = CliRunner().invoke(app, ["report", "--suite", "digits-verdict", "--json",
                                      "--cache-dir", str(store.root)])
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    return result.stderr, {r["label"]: r for r in records if r["seed"] is None}


def test_this_codes_rows_keep_their_labels_and_the_baseline_is_found(tmp_path):
    stderr, aggregates = _report(_cache(tmp_path, current=True))
    assert "no loss named or labelled" not in stderr
    older = f"(code.digest={OLD_DIGEST[:12]})"
    assert set(aggregates) == {"Cross-entropy", "New loss", "Cross-entropy x 2",
                               f"Cross-entropy {older}", f"New loss {older}",
                               f"Cross-entropy x 2 {older}"}
    # this code's rows pool this code's two seeds only, the older rows the older runs only
    for label, shift in [("Cross-entropy", 0.0), ("New loss", -0.2)]:
        assert abs(aggregates[label]["recall@1"] - (METRICS["recall@1"] + shift + 0.0005)) < 1e-12
        assert abs(aggregates[f"{label} {older}"]["recall@1"]
                   - (METRICS["recall@1"] + shift - 0.05 + 0.0005)) < 1e-12
    # the contrast is against this code's baseline, paired over its two seeds (the hand-written
    # runs have no per-query records, so the engine gives no interval; it names the pairing)
    verdict = aggregates["New loss"]["verdict"]
    assert verdict["baseline"] == "Cross-entropy" and verdict["seeds"] == 2
    assert aggregates[f"New loss {older}"].get("verdict") is None  # not a contrast of this suite
    assert "2 seeds" not in stderr  # the note below counts runs, not seeds
    assert "6 cached runs were trained by other code than this modbench's" in stderr


def test_with_only_older_runs_the_suite_shows_what_this_code_has_not_run(tmp_path):
    stderr, aggregates = _report(_cache(tmp_path, current=False))
    assert "no loss named or labelled" not in stderr
    assert aggregates["Cross-entropy"]["status"] != "done"  # nothing of this code ran
    verdict = aggregates["New loss"]["verdict"]
    assert verdict["baseline"] == "Cross-entropy" and not verdict["seeds"]
    assert "modbench compare" in stderr  # how to get this code's runs
