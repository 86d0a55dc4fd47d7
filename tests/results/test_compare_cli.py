"""``modbench compare --baseline`` end to end on the digits suite: two seeds, one epoch, a subset
of 5 images per class (a few seconds on a CPU)."""

from __future__ import annotations

import json

import numpy as np
import pytest
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


def test_compare_prints_the_verdict_table_first(table_run):
    out = table_run.stdout
    assert "Table 1 layout — digits" in out and "Table 2 layout — digits" in out
    assert "Seeds" in out and "±" in out
    assert out.index("Verdicts vs Cross-entropy — digits") < out.index("Table 1 layout — digits")
    assert "Exceeds seed noise" not in out and "Welch" not in out
    block = out.split("Verdicts vs Cross-entropy — digits", 1)[1].split("└", 1)[0]
    rows = [line for line in block.splitlines() if line.startswith("│")]
    # the four other loss settings (the digits suite has two cross-entropy settings, the plain one
    # and the exp(gamma) control: the baseline is a label)
    assert [r.split("│")[1].strip() for r in rows] == [
        "New loss", "Triplet loss", "Cross-entropy x e^5 (control)", "New loss (sigmoid reading)"]
    verdicts = [r.split("│")[4].strip() for r in rows]
    assert all(v.split(" ")[0] in ("better", "worse", "equivalent", "undecided") for v in verdicts)
    assert "Other metrics vs Cross-entropy (descriptive) — digits" in out


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")
def test_compare_json_keeps_each_seed_and_adds_verdicts_and_aggregates(table_run, cache):
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
    assert base["aggregate"]["is_baseline"] is True
    new_agg = next(a for a in aggregates if a["label"] == "New loss")
    new = new_agg["verdict"]
    assert new["baseline"] == "Cross-entropy" and new["metric"] == "map@r" and new["margin"] == 0.01
    assert "verdict" not in base
    mine = [r["map@r"] for r in runs if r["label"] == "New loss"]
    theirs = [r["map@r"] for r in runs if r["label"] == "Cross-entropy"]
    # paired by seed: the mean of the per-seed differences (runs are listed in seed order)
    assert new["delta"] == pytest.approx(np.mean(np.subtract(mine, theirs)), abs=1e-9)
    assert new["seeds"] == 2 and new["verdict"] in ("better", "worse", "equivalent", "undecided")
    assert "test queries" in new["noise"]
    assert {s["metric"] for s in new_agg["secondary"]} >= {"nmi", "recall@1"}


def test_compare_csv_lines_carry_the_verdict_of_their_loss(table_run, cache):
    import csv
    import io

    result = CliRunner().invoke(app, ["report", "--suite", "digits", "--csv", "--cache-dir", str(cache), "--epochs", "1", "--subset", "5"])
    assert result.exit_code == 0, result.output
    lines = list(csv.DictReader(io.StringIO(result.stdout)))
    assert lines and all(line["verdict.metric"] == "map@r" for line in lines)
    assert {line["verdict"] for line in lines if line["label"] == "Cross-entropy"} == {"baseline"}
    assert all(line["verdict"] in ("better", "worse", "equivalent", "undecided") for line in lines if line["label"] != "Cross-entropy")


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
