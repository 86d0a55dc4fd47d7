"""``report --output FILE``: without --markdown/--json/--csv the format follows the
file's extension; anything else is refused with exit 2, and "wrote" is said only after a
write."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from modbench.cache.store import RunStore
from modbench.cli.app import app
from results.factory import suite_runs, write_cached

SUITE = """\
name: out-suite
dataset: {name: digits}
backbone: {name: small-cnn, embedding_dim: 8}
train: {epochs: 1, batch_size: 8, lr: 1.0e-3}
seeds: [0]
losses:
  - {name: cross-entropy, label: CE}
  - {name: triplet, label: Triplet}
"""


@pytest.fixture
def cached(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SUITE)
    store = RunStore(tmp_path / "cache")
    for run in suite_runs(path):
        write_cached(store, run)
    return path, store.root


def report(cached, *args):
    suite, cache = cached
    return CliRunner().invoke(app, ["report", "--suite", str(suite), "--cache-dir", str(cache), *args])


@pytest.mark.parametrize("paper", [[], ["--paper"]])
def test_markdown_extension_writes_markdown(cached, tmp_path, paper):
    target = tmp_path / "r.md"
    result = report(cached, "--output", str(target), *paper)
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert text.startswith("# modbench report") and "### Table 1 layout — out-suite" in text
    assert f"wrote {target}" in result.stderr
    assert result.stdout == ""


def test_json_and_csv_extensions(cached, tmp_path):
    result = report(cached, "--output", str(tmp_path / "r.json"))
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "r.json").read_text())
    assert [d["label"] for d in data] == ["CE", "Triplet"]
    result = report(cached, "--output", str(tmp_path / "r.CSV"))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r.CSV").read_text())))
    assert [r["label"] for r in rows] == ["CE", "Triplet"]


@pytest.mark.parametrize("name,flags,fragment", [
    ("r.txt", [], "cannot tell the format from '.txt'"),
    ("report", [], "cannot tell the format"),
    ("r.json", ["--markdown"], "the extension .json says json but --markdown was given"),
])
def test_other_extensions_are_refused_and_nothing_is_claimed(cached, tmp_path, name, flags, fragment):
    target = tmp_path / name
    result = report(cached, "--output", str(target), *flags)
    assert result.exit_code == 2
    assert fragment in result.stderr and result.stderr.strip().count("\n") == 0
    assert "wrote" not in result.stderr and not target.exists()


def test_flag_and_matching_extension_or_other_name(cached, tmp_path):
    result = report(cached, "--json", "--output", str(tmp_path / "results.out"))
    assert result.exit_code == 0, result.output
    json.loads((tmp_path / "results.out").read_text())  # an explicit flag decides for any name
