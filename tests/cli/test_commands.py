"""Every command end to end through Typer's CliRunner, on a tiny digits suite."""

from __future__ import annotations

import json

import pytest

from modbench import __version__
from modbench.cache.store import RunStore

METRIC_KEYS = {"nmi", "f1", "recall@1", "recall@2", "recall@4", "recall@8"}


def test_version(cli):
    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"modbench {__version__}"


def test_help_lists_commands(cli):
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("train", "eval", "compare", "report", "list"):
        assert command in result.stdout


def test_list_shows_every_kind(cli):
    result = cli("list")
    assert result.exit_code == 0
    for name in ("digits", "improved", "cross-entropy", "triplet", "small-cnn", "pml:ClassName"):
        assert name in result.stdout
    assert cli("list", "losses").stdout.count("small-cnn") == 0
    bad = cli("list", "lossez")
    assert bad.exit_code == 2 and "choose one of" in bad.stderr


def test_compare_trains_once_then_answers_from_cache(cli, tiny_suite, cache_dir):
    first = cli("compare", "--suite", tiny_suite, "--json")
    assert first.exit_code == 0, first.stderr
    records = json.loads(first.stdout)
    assert [r["label"] for r in records] == ["CE", "New loss", "Triplet"]
    for r in records:
        assert {"suite", "dataset", "backbone", "loss", "label", "seed"} <= r.keys()
        assert METRIC_KEYS <= r.keys()
        assert 0.0 <= r["recall@1"] <= r["recall@2"] <= r["recall@4"] <= r["recall@8"] <= 1.0
    runs = RunStore(cache_dir).all_runs()
    assert len(runs) == 3 and all(r.status() == "done" for r in runs)
    stamps = {r.key: r.result_file.stat().st_mtime_ns for r in runs}

    second = cli("compare", "--suite", tiny_suite, "--json")
    assert second.exit_code == 0
    assert json.loads(second.stdout) == records
    assert {r.key: r.result_file.stat().st_mtime_ns for r in runs} == stamps  # nothing retrained
    assert "trained" not in second.stderr

    forced = cli("train", "--suite", tiny_suite, "--loss", "CE", "--force")
    assert forced.exit_code == 0
    changed = {r.key for r in runs if r.result_file.stat().st_mtime_ns != stamps[r.key]}
    assert changed == {records[0]["run"]}


def test_compare_tables_have_both_layouts(cli, tiny_suite):
    result = cli("compare", "--suite", tiny_suite)
    assert result.exit_code == 0, result.stderr
    assert "Table 1 layout" in result.stdout and "Table 2 layout" in result.stdout
    # one dataset and backbone: Table 2 names them in its title and uses R@k headers
    for header in ("Loss function", "NMI", "F1 (pairs)", "macro-F1", "R@1", "R@8"):
        assert header in result.stdout
    assert "Digits, Small CNN" in result.stdout


def test_compare_markdown(cli, tiny_suite):
    result = cli("compare", "--suite", tiny_suite, "--markdown", "--loss", "CE")
    assert result.exit_code == 0
    assert "| Loss function" in result.stdout and "|--" in result.stdout.replace(" ", "")


def test_output_flags_are_exclusive(cli, tiny_suite):
    for command in (["compare", "--suite", tiny_suite], ["report"]):
        result = cli(*command, "--markdown", "--json")
        assert result.exit_code == 2 and "mutually exclusive" in result.stderr


def test_epochs_override_is_a_different_run(cli, tiny_suite, cache_dir):
    assert cli("train", "--suite", tiny_suite, "--loss", "CE").exit_code == 0
    assert cli("train", "--suite", tiny_suite, "--loss", "CE", "--epochs", "1").exit_code == 0
    runs = RunStore(cache_dir).all_runs()
    assert sorted(r.result_or_none()["epochs"] for r in runs) == [1, 2]


def test_eval_reads_cache_and_names_missing_runs(cli, tiny_suite):
    assert cli("train", "--suite", tiny_suite, "--loss", "CE").exit_code == 0
    result = cli("eval", "--suite", tiny_suite, "--json")
    assert result.exit_code == 1  # two runs are missing
    records = json.loads(result.stdout)
    assert [r["status"] for r in records] == ["done", "missing", "missing"]
    assert "missing: 'New loss'" in result.stderr and "missing: 'Triplet'" in result.stderr
    only = cli("eval", "--suite", tiny_suite, "--loss", "CE", "--json")
    assert only.exit_code == 0 and json.loads(only.stdout)[0]["recall@1"] == records[0]["recall@1"]


def test_eval_with_other_metrics_remeasures_from_checkpoint(cli, tiny_suite):
    assert cli("train", "--suite", tiny_suite, "--loss", "CE").exit_code == 0
    result = cli("eval", "--suite", tiny_suite, "--loss", "CE", "--metrics", "recall@3,nmi", "--json")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)[0]
    assert "recall@3" in record and "nmi" in record


def test_report_from_cache_only(cli, tiny_suite):
    empty = cli("report", "--suite", tiny_suite, "--markdown")
    assert empty.exit_code == 0 and empty.stdout.count("—") >= 9  # 3 runs x (2 + 4) cells, none done
    assert cli("train", "--suite", tiny_suite, "--loss", "Triplet").exit_code == 0
    md = cli("report", "--suite", tiny_suite, "--markdown")
    assert md.exit_code == 0
    table1 = md.stdout[md.stdout.index("Table 1 layout"):]  # the verdict table comes first
    triplet_row = next(line for line in table1.splitlines() if line.startswith("| Triplet"))
    assert "—" not in triplet_row
    ce_row = next(line for line in table1.splitlines() if line.startswith("| CE"))
    assert "—" in ce_row
    csv_out = cli("report", "--suite", tiny_suite, "--csv")
    assert csv_out.stdout.splitlines()[0].startswith("suite,dataset,protocol,backbone,loss,label,seed,status,run")
    assert len(csv_out.stdout.strip().splitlines()) == 4


def test_report_writes_output_file(cli, tiny_suite, tmp_path):
    target = tmp_path / "out" / "report.md"
    result = cli("report", "--suite", tiny_suite, "--markdown", "--output", target)
    text = target.read_text()  # report --markdown is the whole document, tables inside
    assert result.exit_code == 0 and text.startswith("# modbench report") and "### Table 1 layout" in text


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["train", "--suite", "nope"], "unknown suite 'nope'"),
        (["train", "--suite", "digits", "--loss", "triplt"], "did you mean 'triplet'"),
        (["train", "--suite", "digits", "--epochs", "0"], "--epochs"),
        (["train", "--suite", "digits", "--device", "tpu"], "--device tpu"),
        (["compare", "--suite", "digits", "--bogus"], "No such option"),
        (["eval"], "exactly one of --suite or --embeddings"),
    ],
)
def test_bad_arguments_exit_2(cli, args, fragment):
    result = cli(*args)
    assert result.exit_code == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_unexpected_error_is_one_line_exit_1(cli, tiny_suite, monkeypatch):
    import modbench.engine.train as train_module

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(train_module, "train_run", boom)
    result = cli("train", "--suite", tiny_suite, "--loss", "CE")
    assert result.exit_code == 1
    assert "error: RuntimeError: disk on fire (set MODBENCH_DEBUG=1" in result.stderr
    assert "Traceback" not in result.stderr
