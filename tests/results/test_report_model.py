"""``report`` covers every run in the cache: runs of built-in suites, with
overrides or other seeds, and runs of suite files that are not built in. A filter says on
stderr what it left out. Caches are written by hand (no training)."""

from __future__ import annotations

import csv
import io

from typer.testing import CliRunner

from modbench.cache.store import RunStore
from modbench.cli.app import app
from modbench.results.report_model import build_report
from results.factory import suite_runs, write_cached

CUSTOM = """\
name: my-experiment
dataset: {name: digits}
backbone: {name: small-cnn, embedding_dim: 8}
train: {epochs: 1, batch_size: 8, lr: 1.0e-3}
seeds: [0]
losses:
  - {name: focal, label: Focal}
  - {name: improved, params: {beta: [2, 3]}}
"""


def cache_with_two_suites(tmp_path):
    """Every digits run at --epochs 1 --subset 5, seeds 0 and 1, and a custom suite's runs
    (whose file is then deleted: the cache alone must show them)."""
    store = RunStore(tmp_path / "cache")
    for run in suite_runs("digits", epochs=1, subset=5, seeds=[0, 1]):
        write_cached(store, run)
    path = tmp_path / "mine.yaml"
    path.write_text(CUSTOM)
    custom = suite_runs(path)
    for run in custom:
        write_cached(store, run)
    path.unlink()
    return store, len(custom)


def test_every_cached_run_appears(tmp_path):
    store, n_custom = cache_with_two_suites(tmp_path)
    model = build_report(store)
    digits = [r for r in model.rows if r.suite == "digits"]
    others = [r for r in model.rows if r.suite != "digits"]
    n_digits = len(suite_runs("digits")) * 2
    assert len(digits) == n_digits and all(r.status == "done" for r in digits)
    assert len(others) == n_custom == 3
    assert {r.suite for r in others} == {"cached runs (digits, small-cnn)"}
    assert sorted(r.loss for r in others) == ["focal", "improved", "improved"]
    assert model.left_out == []
    # the digits runs are placed in the suite, with their labels, and their overrides stated
    from modbench.results.deviations import annotate

    annotate(model.rows, model.written)
    assert {d.short for r in digits for d in r.deviations} == {"epochs 1", "subset 5", "seed 1"}


def test_report_csv_lists_every_suite(tmp_path):
    store, n_custom = cache_with_two_suites(tmp_path)
    result = CliRunner().invoke(app, ["report", "--csv", "--cache-dir", str(store.root)])
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(table) == len(suite_runs("digits")) * 2 + n_custom
    assert sorted({r["param.beta"] for r in table if r["loss"] == "improved" and r["suite"] != "digits"}) == ["2.0", "3.0"]
    assert result.stderr.count("left out") == 0


def test_a_filter_says_what_it_left_out(tmp_path):
    store, n_custom = cache_with_two_suites(tmp_path)
    result = CliRunner().invoke(app, ["report", "--csv", "--suite", "digits", "--epochs", "1", "--subset", "5",
                                      "--seed", "0", "--cache-dir", str(store.root)])
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {r["suite"] for r in table} == {"digits"} and {r["seed"] for r in table} == {"0"}
    n = len(suite_runs("digits"))
    assert f"{n} cached runs left out: other seeds than --seed 0" in result.stderr
    assert f"{n_custom} cached runs left out: not in the suites given with --suite" in result.stderr
    # the suite as written, overridden runs not asked for: left out and said so
    written = CliRunner().invoke(app, ["report", "--csv", "--suite", "digits", "--epochs", "30", "--cache-dir", str(store.root)])
    assert f"{2 * n} cached runs left out: other epochs than --epochs 30" in written.stderr


def test_report_baseline_in_a_suite_with_told_apart_labels(tmp_path):
    """The custom suite's cached runs: two 'improved' rows (beta 2 and 3) and focal. A loss name
    shared by two rows is ambiguous there (a warning naming the labels; digits has one 'improved'
    and is compared); a told-apart label works."""
    store, _ = cache_with_two_suites(tmp_path)
    base = ["report", "--json", "--cache-dir", str(store.root), "--baseline"]
    ambiguous = CliRunner().invoke(app, [*base, "improved"])
    assert ambiguous.exit_code == 0, ambiguous.output
    assert "give one label instead (choices: " in ambiguous.stderr
    assert "improved (beta=2)" in ambiguous.stderr and "improved (beta=3)" in ambiguous.stderr
    nowhere = CliRunner().invoke(app, [*base, "nosuchloss"])
    assert nowhere.exit_code == 2 and nowhere.stderr.strip().count("\n") == 0
    result = CliRunner().invoke(app, [*base, "improved (beta=2)"])
    assert result.exit_code == 0, result.output
    import json

    data = json.loads(result.stdout)
    versus = [d for d in data if "verdict" in d and d["verdict"]["baseline"] == "improved (beta=2)"]
    assert {d["label"] for d in versus} == {"focal", "improved (beta=3)"}
    # digits has no such loss: reported without it, with a warning
    assert "suite 'digits" in result.stderr and "without verdicts" in result.stderr
