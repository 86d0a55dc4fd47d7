"""Disk and permissions: a full or unwritable cache stops the command with one clear error line
(exit 2, no traceback), keeps what was complete, and never presents a partial result."""

from __future__ import annotations

import copy
import errno
import json

import pytest

import modbench.cache.atomic as atomic
from modbench.cache.store import RunStore

from helpers import TINY_SUITE


@pytest.fixture
def suite(write_suite):
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = data["losses"][:1]  # CE
    return write_suite(data, "ce.yaml")


def fail_writes(monkeypatch, name: str, nth: int, code: int = errno.ENOSPC):
    """The nth write of file ``name`` gets half its bytes out, then the OS error ``code``."""
    real = atomic._write_file
    seen = {"n": 0}

    def write(handle, data, target):
        if target == name:
            seen["n"] += 1
            if seen["n"] == nth:
                handle.write(data[: len(data) // 2])
                raise OSError(code, {errno.ENOSPC: "No space left on device", errno.EACCES: "Permission denied"}[code])
        real(handle, data, target)

    monkeypatch.setattr(atomic, "_write_file", write)


def last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


def test_disk_full_while_writing_a_checkpoint(cli, suite, cache_dir, tmp_path, monkeypatch):
    reference = cli("compare", "--suite", suite, "--cache-dir", tmp_path / "ref", "--device", "cpu", "--json")
    assert reference.exit_code == 0

    with monkeypatch.context() as m:
        fail_writes(m, "checkpoint.pt", nth=2)  # epoch 2
        full = cli("compare", "--suite", suite, "--device", "cpu", "--json")
    assert full.exit_code == 2
    assert full.stdout == ""  # no table: nothing partial is presented
    line = last_line(full.stderr)
    assert line.startswith("error: ") and line.count("\n") == 0
    assert "checkpoint.pt: cannot write (No space left on device); free disk space" in line
    assert "Traceback" not in full.stderr
    (run_dir,) = RunStore(cache_dir).all_runs()
    assert run_dir.load_checkpoint()["epoch"] == 1  # the previous checkpoint, intact
    assert run_dir.result() is None and not list(run_dir.path.glob(".*.tmp"))

    resumed = cli("compare", "--suite", suite, "--device", "cpu", "--json")
    assert resumed.exit_code == 0, resumed.stderr
    assert json.loads(resumed.stdout) == json.loads(reference.stdout)


def test_disk_full_while_writing_the_result(cli, suite, cache_dir, monkeypatch):
    with monkeypatch.context() as m:
        fail_writes(m, "result.json", nth=1)
        full = cli("train", "--suite", suite, "--device", "cpu")
    assert full.exit_code == 2 and "result.json: cannot write (No space left on device)" in last_line(full.stderr)
    (run_dir,) = RunStore(cache_dir).all_runs()
    assert not run_dir.result_file.exists() and not list(run_dir.path.glob(".*.tmp"))
    report = cli("report", "--suite", suite, "--json")
    assert [r["status"] for r in json.loads(report.stdout)] == ["missing"]
    again = cli("compare", "--suite", suite, "--device", "cpu", "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)[0]["status"] == "done"


def test_cache_becomes_unwritable_during_training(cli, suite, monkeypatch):
    fail_writes(monkeypatch, "history.json", nth=1, code=errno.EACCES)
    result = cli("train", "--suite", suite, "--device", "cpu")
    assert result.exit_code == 2
    assert "history.json: cannot write (Permission denied); choose a writable folder" in last_line(result.stderr)
    assert "Traceback" not in result.stderr
