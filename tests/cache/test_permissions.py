"""Cache files, reports and plots are created with the user's umask, like any other tool's
files (0644 under the usual 022), not with the 0600 of a temporary file."""

from __future__ import annotations

import os
import stat

import pytest

from modbench.cache.atomic import atomic_write_bytes, atomic_write_json


@pytest.fixture
def umask():
    def set_mask(mask: int) -> None:
        os.umask(mask)

    before = os.umask(0o022)
    yield set_mask
    os.umask(before)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_writes_follow_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    atomic_write_bytes(tmp_path / "report.md", b"# report\n")
    atomic_write_json(tmp_path / "runs" / "x" / "result.json", {"a": 1})
    assert mode(tmp_path / "report.md") == expected
    assert mode(tmp_path / "runs" / "x" / "result.json") == expected


def test_a_trained_run_is_readable_by_the_group_under_umask_022(cli, tiny_suite, cache_dir, umask):
    umask(0o022)
    done = cli("train", "--suite", tiny_suite, "--cache-dir", cache_dir, "--device", "cpu", "--loss", "CE", "--epochs", "1")
    assert done.exit_code == 0, done.stderr
    (run_dir,) = [p for p in (cache_dir / "runs").iterdir() if p.is_dir()]
    files = [p for p in run_dir.iterdir() if p.is_file() and p.name != ".lock"]
    assert {p.name for p in files} >= {"result.json", "checkpoint.pt", "history.json", "config.json"}
    assert {p.name: mode(p) for p in files} == {p.name: 0o644 for p in files}
