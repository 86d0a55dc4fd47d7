"""Kill and resume: a ``train`` or ``compare`` killed with SIGKILL at any moment resumes on the
next invocation and ends with exactly the metrics of an uninterrupted run (CPU, same seed).

Real subprocesses, killed at precise points by the test-only hook ``HOOK_KILL_AT``
(tests/killpoints.py, a test-only entry script), one after the other on the same cache, then once from outside at an
arbitrary moment.
"""

from __future__ import annotations

import json
import signal
import time

import pytest

from modbench.cache.store import RunStore

from subprocess_runs import learning_curve, run_modbench, start_modbench, subprocess_env, write_suite_file

LABEL = "New loss"


def kill_at(point: str) -> dict:
    return subprocess_env(HOOK_KILL_AT=point)


def assert_killed(proc) -> None:
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-2000:])


@pytest.mark.slow  # real subprocesses: ~5 s of CPU each (torch import)
def test_killed_at_each_point_resumes_to_identical_metrics(tmp_path, reference, cli):
    suite = write_suite_file(tmp_path / "tiny.yaml")
    cache = tmp_path / "cache"
    only = ("--loss", LABEL)
    key = reference[LABEL]["record"]["run"]
    run_dir = RunStore(cache).run(key)

    def temp_files():
        return sorted(p.name for p in run_dir.path.glob(".*.tmp"))

    # 1. between epochs: right after the epoch-1 checkpoint and history are on disk.
    assert_killed(run_modbench("train", suite, cache, *only, env=kill_at("after-checkpoint:1")))
    assert run_dir.load_checkpoint()["epoch"] == 1 and len(run_dir.read_history()) == 1
    assert run_dir.result() is None
    assert run_dir.lock_file.exists()  # left by the dead process; the kernel released its flock
    report = cli("report", "--suite", suite, "--cache-dir", cache, "--json")
    assert report.exit_code == 0
    assert {r["label"]: r["status"] for r in json.loads(report.stdout)}[LABEL] == "missing"

    # 2. while writing a checkpoint: half of epoch 2's checkpoint is in a temporary file.
    assert_killed(run_modbench("compare", suite, cache, *only, env=kill_at("writing:checkpoint.pt:1")))
    assert run_dir.load_checkpoint()["epoch"] == 1  # the old checkpoint, complete
    assert temp_files() and temp_files()[0].startswith(".checkpoint.pt.")

    # 3. during validation: resumed at epoch 2, killed in its validation (nothing new on disk).
    assert_killed(run_modbench("train", suite, cache, *only, env=kill_at("validation:1")))
    assert run_dir.load_checkpoint()["epoch"] == 1
    assert temp_files() == []  # the next holder of the run's lock cleaned up

    # 4. between the last checkpoint and its history: epoch 3's checkpoint is on disk, the
    #    history on disk still ends at epoch 2. (History writes of this process: the resumed
    #    history, epoch 2, epoch 3: the third is killed.)
    assert_killed(run_modbench("compare", suite, cache, *only, env=kill_at("writing:history.json:3")))
    assert run_dir.load_checkpoint()["epoch"] == 3 and len(run_dir.read_history()) == 2

    # 5. during the final evaluation on the test split (the history was rewritten on resume).
    assert_killed(run_modbench("train", suite, cache, *only, env=kill_at("evaluation:1")))
    assert run_dir.load_checkpoint()["epoch"] == 3 and run_dir.result() is None
    assert len(run_dir.read_history()) == 3

    # 6. while writing result.json: no result, only a temporary file.
    assert_killed(run_modbench("compare", suite, cache, *only, env=kill_at("writing:result.json:1")))
    assert run_dir.result() is None and not run_dir.result_file.exists()
    assert any(name.startswith(".result.json.") for name in temp_files())

    # 7. uninterrupted: completes; every number equals the uninterrupted reference run.
    final = run_modbench("compare", suite, cache, *only, "--json")
    assert final.returncode == 0, final.stderr
    assert "1 run(s): 1 trained" in final.stderr
    (record,) = json.loads(final.stdout)
    assert record == reference[LABEL]["record"]
    assert learning_curve(run_dir.read_history()) == learning_curve(reference[LABEL]["history"])
    assert run_dir.result(deep=True)["epochs"] == 3 and temp_files() == []


@pytest.mark.slow  # real subprocesses: ~5 s of CPU each (torch import)
def test_killed_from_outside_at_an_arbitrary_moment(tmp_path, reference):
    """SIGKILL from another process as soon as training has begun, wherever it is."""
    suite = write_suite_file(tmp_path / "tiny.yaml", labels=["CE"])
    cache = tmp_path / "cache"
    key = reference["CE"]["record"]["run"]
    run_dir = RunStore(cache).run(key)
    proc = start_modbench("train", suite, cache)
    deadline = time.monotonic() + 120
    while not run_dir.config_file.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    # Whatever it was doing, the files present are complete or absent.
    state = run_dir.load_checkpoint()
    assert state is None or 1 <= state["epoch"] <= 3
    result = run_dir.result()
    assert result is None or proc.returncode == 0

    final = run_modbench("compare", suite, cache, "--json")
    assert final.returncode == 0, final.stderr
    assert json.loads(final.stdout) == [reference["CE"]["record"]]
    assert learning_curve(run_dir.read_history()) == learning_curve(reference["CE"]["history"])
