"""Two processes, one cache: each run is trained exactly once, the second process waits for the
first and reads its result, neither sees a half-written file, and a lock left by a killed
process is taken over at once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modbench.cache.lock import RunLock
from modbench.cache.store import RunStore

from subprocess_runs import REPO, learning_curve, start_modbench, subprocess_env, write_suite_file


def wait_for(condition, what: str, procs=(), timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for p in procs:
            assert p.poll() is None, f"process ended early while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def trained_count(stderr: str) -> int:
    """From the summary line 'N run(s): T trained, C from the cache'."""
    line = next(line for line in stderr.splitlines() if " run(s): " in line)
    parts = dict(reversed(p.strip().split(" ", 1)) for p in line.split(": ", 1)[1].split(","))
    return int(parts.get("trained", 0))


@pytest.mark.slow  # real subprocesses: ~5 s of CPU each (torch import)
def test_two_suites_sharing_a_run_train_it_once(tmp_path, reference):
    """A pauses while training the shared run (holding its lock); B trains its other run, then
    waits for A, then reads A's result instead of training it again."""
    cache = tmp_path / "cache"
    suite_a = write_suite_file(tmp_path / "a.yaml", name="suite-a", labels=["New loss", "CE"])
    suite_b = write_suite_file(tmp_path / "b.yaml", name="suite-b", labels=["New loss", "Triplet"])
    release = tmp_path / "release"
    store = RunStore(cache)
    shared = store.run(reference["New loss"]["record"]["run"])
    triplet = store.run(reference["Triplet"]["record"]["run"])

    a = start_modbench("compare", suite_a, cache, "--json", stderr_file=tmp_path / "a.err",
                       env=subprocess_env(HOOK_PAUSE_AT=f"after-checkpoint:1:{release}"))
    wait_for(lambda: Path(f"{release}.reached").exists(), "A to pause in the shared run", [a])
    b = start_modbench("compare", suite_b, cache, "--json", stderr_file=tmp_path / "b.err")
    wait_for(lambda: "waiting for the other modbench process" in (tmp_path / "b.err").read_text(),
             "B to wait for the shared run", [a, b])
    # B has trained its own run meanwhile and has not touched the shared one.
    assert triplet.result() is not None and shared.result() is None
    release.touch()
    out_a, _ = a.communicate(timeout=180)
    out_b, _ = b.communicate(timeout=180)
    err_a, err_b = (tmp_path / "a.err").read_text(), (tmp_path / "b.err").read_text()
    assert a.returncode == 0 and b.returncode == 0, err_a[-2000:] + err_b[-2000:]

    assert trained_count(err_a) == 2  # the shared run and CE
    assert trained_count(err_b) == 1 and "1 from the cache" in err_b  # Triplet; shared read
    assert f"is in use by modbench process {a.pid}" in err_b  # the holder is named
    records = {(s, r["label"]): r for s, out in (("a", out_a), ("b", out_b)) for r in json.loads(out)}
    for (suite, label), record in records.items():
        expected = {**reference[label]["record"], "suite": f"suite-{suite}"}
        assert record == expected, (suite, label)
    assert learning_curve(shared.read_history()) == learning_curve(reference["New loss"]["history"])
    assert not list(cache.glob("runs/*/.*.tmp"))


@pytest.mark.slow  # real subprocesses: ~5 s of CPU each (torch import)
def test_same_suite_twice_at_once_trains_each_run_once(tmp_path, reference):
    cache = tmp_path / "cache"
    suite = write_suite_file(tmp_path / "tiny.yaml")
    procs = [start_modbench("compare", suite, cache, "--json") for _ in range(2)]
    results = [p.communicate(timeout=240) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in results]
    # Each run has a result, so each was trained at least once; 3 trainings in all: exactly once.
    assert sum(trained_count(err) for _, err in results) == 3
    for out, _ in results:
        assert {r["label"]: r for r in json.loads(out)} == {k: v["record"] for k, v in reference.items()}


HOLD = """
import sys, time
from modbench.cache.lock import RunLock
lock = RunLock(sys.argv[1])
assert lock.acquire(blocking=False)
print("held", flush=True)
time.sleep(120)
"""


def test_lock_of_a_killed_process_is_taken_over(tmp_path):
    path = tmp_path / "runs" / "0123456789abcdef0123" / ".lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE,
                              text=True, env=subprocess_env(), cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = RunLock(path)
        assert not lock.acquire(blocking=False)  # a live holder keeps it
        assert not lock.acquire_within(0.2)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        assert lock.acquire_within(10)  # the kernel dropped the dead holder's lock
        assert path.exists()  # stale lock file still there: it does not matter
        lock.release()
    finally:
        holder.kill()
        holder.wait()
