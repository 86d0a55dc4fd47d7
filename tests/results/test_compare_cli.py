"""``modbench compare --baseline`` end to end on the digits suite: two seeds, one epoch, a subset
of 5 images per class (a few seconds on a CPU)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps
from typer.testing import CliRunner

from modbench.cli.app import app

TINY = ["--suite", "digits", "--seed", "0", "--seed", "1", "--epochs", "1", "--subset", "5", "--device", "cpu"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def table_run(cache):
    result = CliRunner().invoke(app, ["compare", *TINY, "--baseline", "Cross-entropy", "--cache-dir", str(cache)])
    assert result.exit_code == 0, result.output
    return result


def test_compare_prints_mean_std_and_the_significance_table(table_run):
    out = table_run.stdout
    assert "Table 1 layout — digits" in out and "Table 2 layout — digits" in out
    assert "Seeds" in out and "±" in out
    assert "Difference to the baseline — digits" in out
    assert "Δ vs Cross-entropy" in out and "Exceeds seed noise?" in out
    assert "Welch's t-test" in out and "α = 0.05" in out and "ddof=1" in out
    # four other loss settings x seven metrics (Table 1 has both F1s), each with a verdict (the
    # digits suite has two cross-entropy settings, the plain one and the exp(gamma) control: the
    # baseline is a label)
    block = out.split("Difference to the baseline — digits", 1)[1].split("└", 1)[0]
    rows = [line for line in block.splitlines() if line.startswith("│")]
    assert len(rows) == 28
    assert [r.split("│")[1].strip() for r in rows][::7] == [
        "New loss", "Triplet loss", "Cross-entropy x e^5 (control)", "New loss (sigmoid reading)"]
    verdicts = [r.split("│")[-2].strip() for r in rows]
    assert all(v in ("yes", "no") or v.startswith("not testable: ") for v in verdicts)


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")
def test_compare_json_keeps_each_seed_and_adds_aggregates(table_run, cache):
    # the runs are cached by the first test: this trains nothing
    result = CliRunner().invoke(app, ["compare", *TINY, "--baseline", "Cross-entropy", "--cache-dir", str(cache), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    runs = [d for d in data if d["seed"] is not None]
    aggregates = [d for d in data if d.get("aggregate")]
    assert len(runs) == 10 and {r["seed"] for r in runs} == {0, 1}
    assert all(r["status"] == "done" and "aggregate" not in r for r in runs)
    assert len(aggregates) == 5
    for agg in aggregates:
        values = [r["nmi"] for r in runs if r["label"] == agg["label"]]
        assert agg["aggregate"]["n"] == 2 and agg["aggregate"]["seeds"] == [0, 1]
        assert agg["nmi"] == pytest.approx(np.mean(values))
        assert agg["aggregate"]["std"]["nmi"] == pytest.approx(np.std(values, ddof=1))
    base = next(a for a in aggregates if a["label"] == "Cross-entropy")
    assert base["aggregate"]["is_baseline"] is True and "versus_baseline" not in base
    other = next(a for a in aggregates if a["label"] == "New loss")
    f1 = other["versus_baseline"]["metrics"]["f1"]
    mine = [r["f1"] for r in runs if r["label"] == "New loss"]
    theirs = [r["f1"] for r in runs if r["label"] == "Cross-entropy"]
    assert f1["diff"] == pytest.approx(np.mean(mine) - np.mean(theirs))
    if f1["testable"]:
        assert f1["p"] == pytest.approx(sps.ttest_ind(mine, theirs, equal_var=False).pvalue)
        assert f1["exceeds_noise"] == (f1["p"] < 0.05)


def test_unknown_baseline_exits_2_before_training(tmp_path):
    result = CliRunner().invoke(app, ["compare", *TINY, "--baseline", "cross-entrpy", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    err = result.stderr.strip()
    assert err.count("\n") == 0 and "did you mean 'cross-entropy'" in err and "choices:" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_report_after_compare_writes_plots_and_markdown(table_run, cache, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "report.md"
    args = ["report", *[a for a in TINY if a not in ("--device", "cpu")], "--cache-dir", str(cache),
            "--markdown", "--plots", str(tmp_path / "plots"), "--output", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    # the overrides name the section, its plots and its protocol
    title = "digits (subset 5, epochs 1)"
    assert f"## {title}" in text and f"### Protocol — {title}" in text
    # a title that had to change to become a file name gets a digest of itself (no two titles share a file)
    (png,) = [p.name for p in (tmp_path / "plots").glob("digits_subset_5_epochs_1-*-nmi.png")]
    assert f"plots/{png}" in text and "Differs from the suite as written: subset" in text
    assert (tmp_path / "plots" / png).read_bytes()[:4] == b"\x89PNG"


def test_report_finds_the_cached_seeds_without_seed_flags(table_run, cache):
    args = ["report", "--suite", "digits", "--epochs", "1", "--subset", "5", "--cache-dir", str(cache), "--json"]
    data = json.loads(CliRunner().invoke(app, args).stdout)
    assert sorted({d["seed"] for d in data if d["seed"] is not None}) == [0, 1]
    assert all(d["aggregate"]["n"] == 2 for d in data if d.get("aggregate"))
