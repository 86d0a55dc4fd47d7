"""``report --plots`` with a damaged study database beside the runs: the tables are printed,
every figure it can draw is written, and the database is skipped with one line naming it; the
count it prints is the number of files that exist."""

from __future__ import annotations

import copy
import json

import pytest

from helpers import TINY_SUITE

pytest.importorskip("matplotlib")


@pytest.mark.slow
def test_a_corrupt_study_database_is_skipped_and_named(cli, write_suite, cache_dir, tmp_path):
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = data["losses"][:1]
    data["train"]["epochs"] = 1
    suite = write_suite(data, "one.yaml")
    done = cli("compare", "--suite", suite, "--cache-dir", cache_dir, "--device", "cpu", "--json")
    assert done.exit_code == 0, done.stderr
    (cache_dir / "tune").mkdir()
    bad = cache_dir / "tune" / "broken.db"
    bad.write_bytes(b"garbage, not SQLite\n" * 100)
    before = bad.read_bytes()
    plots = tmp_path / "plots"
    done = cli("report", "--suite", suite, "--cache-dir", cache_dir, "--plots", plots, "--json")
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)  # the tables
    named = [line for line in done.stderr.splitlines() if "broken.db" in line]
    assert len(named) == 1 and "skipped" in named[0]
    assert bad.read_bytes() == before
    files = sorted(plots.iterdir())
    assert files
    assert f"wrote {len(files)} plot" in done.stderr
