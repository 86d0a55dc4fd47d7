"""Only regular files are read from the cache: a FIFO in place of result.json or config.json
cannot hang report, eval or compare (never opened for a blocking read), and a folder in place of
checkpoint.pt or result.json is reported once and the run treated as missing (trained again by
compare), instead of jamming it with IsADirectoryError on every try."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modbench.cache.store import CorruptFile, RunStore
from modbench.suite.loader import load_suite
from modbench.suite.runs import resolve_runs

from helpers import TINY_SUITE

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def one_loss(write_suite):
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = data["losses"][:1]
    data["train"]["epochs"] = 1
    return write_suite(data, "one.yaml")


@pytest.fixture
def trained(cli, one_loss, cache_dir):
    done = cli("compare", "--suite", one_loss, "--cache-dir", cache_dir, "--device", "cpu", "--json")
    assert done.exit_code == 0, done.stderr
    (run,) = resolve_runs(*load_suite(str(one_loss)))
    return RunStore(cache_dir).run(run.key), json.loads(done.stdout)


def modbench(*args, timeout=120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "modbench", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=timeout)


@pytest.mark.slow  # four `python -m modbench` subprocesses, one of them importing torch
@pytest.mark.parametrize("name", ["result.json", "config.json"])
def test_a_fifo_in_the_cache_hangs_nothing(trained, one_loss, cache_dir, name):
    run_dir, _ = trained
    target = run_dir.path / name
    target.unlink()
    os.mkfifo(target)
    if name == "result.json":
        with pytest.raises(CorruptFile, match="is not a regular file"):
            run_dir.result()
    # Each would block forever in open() before the fix; the timeout turns that into a failure.
    report = modbench("report", "--cache-dir", cache_dir, "--json")
    assert report.returncode in (0, 1), report.stderr
    evaluated = modbench("eval", "--suite", one_loss, "--cache-dir", cache_dir, "--device", "cpu", "--json")
    assert "Traceback" not in evaluated.stderr
    if name == "result.json":
        assert evaluated.returncode == 1 and "is not a regular file" in evaluated.stderr
        assert evaluated.stderr.count("is not a regular file") == 1  # reported once


def test_a_folder_in_place_of_the_checkpoint_is_reported_once_and_the_run_trained_again(cli, trained, one_loss, cache_dir):
    run_dir, first = trained
    run_dir.result_file.unlink()
    run_dir.checkpoint_file.unlink()
    run_dir.checkpoint_file.mkdir()
    (run_dir.checkpoint_file / "data.pkl").write_text("x")
    assert run_dir.status() == "absent"
    again = cli("compare", "--suite", one_loss, "--cache-dir", cache_dir, "--device", "cpu", "--json")
    assert again.exit_code == 0, again.stderr
    assert again.stderr.count("checkpoint.pt is not a regular file") == 1
    assert json.loads(again.stdout) == first  # trained again: the same numbers
    assert run_dir.checkpoint_file.is_file()


def test_a_folder_in_place_of_the_result_is_missing_for_report_and_trained_again_by_compare(cli, trained, one_loss, cache_dir):
    run_dir, first = trained
    run_dir.result_file.unlink()
    run_dir.result_file.mkdir()
    report = cli("report", "--suite", one_loss, "--cache-dir", cache_dir, "--json")
    assert "IsADirectoryError" not in report.stderr + report.stdout
    again = cli("compare", "--suite", one_loss, "--cache-dir", cache_dir, "--device", "cpu", "--json")
    assert again.exit_code == 0, again.stderr
    assert again.stderr.count("result.json is not a regular file") == 1
    assert json.loads(again.stdout) == first
    second = cli("compare", "--suite", one_loss, "--cache-dir", cache_dir, "--device", "cpu", "--json")
    assert "not a regular file" not in second.stderr and "1 from the cache" in second.stderr
