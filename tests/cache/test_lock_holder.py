"""A lock holder that is stopped (SIGSTOP, Ctrl-Z) does not make other processes wait forever:
they name the holder's pid, skip that run (shown as missing) and finish the rest of the suite."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from modbench.cache.lock import RunLock, describe_holder
from modbench.suite.loader import load_suite
from modbench.suite.runs import resolve_runs

from helpers import TINY_SUITE

REPO = Path(__file__).resolve().parents[2]
HOLD = """
import sys, time
from modbench.cache.lock import RunLock
lock = RunLock(sys.argv[1])
assert lock.acquire(blocking=False)
print("held", flush=True)
time.sleep(300)
"""


def test_a_stopped_holder_is_named_and_its_run_skipped(cli, write_suite, cache_dir):
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = data["losses"][:2]  # CE, New loss
    data["train"]["epochs"] = 1
    suite = write_suite(data, "two.yaml")
    runs = {r.label: r for r in resolve_runs(*load_suite(str(suite)))}
    lock_path = cache_dir / "runs" / runs["CE"].key / ".lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock_path)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = RunLock(lock_path)
        assert lock.holder_pid() == holder.pid and not lock.holder_stopped()
        holder.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + 10
        while not lock.holder_stopped():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert describe_holder(lock) == f"modbench process {holder.pid} (stopped)"

        t0 = time.monotonic()
        done = cli("compare", "--suite", suite, "--cache-dir", cache_dir, "--device", "cpu", "--json")
        assert time.monotonic() - t0 < 120
        assert done.exit_code == 1, done.stderr
        rows = {r["label"]: r["status"] for r in json.loads(done.stdout)}
        assert rows == {"CE": "missing", "New loss": "done"}  # the rest of the suite moved on
        assert f"its lock is held by modbench process {holder.pid} (stopped); skipped" in done.stderr
    finally:
        holder.send_signal(signal.SIGCONT)
        holder.kill()
        holder.wait()
