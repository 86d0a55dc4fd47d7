"""``--jobs 2`` stops cleanly: Ctrl-C (SIGINT to the process group or to the parent alone) and
SIGTERM stop every worker promptly, keep each run's last checkpoint and exit 130 / 143; a parent
killed with SIGKILL leaves no worker behind (they die with it)."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from modbench.cache.store import RunStore

REPO = Path(__file__).resolve().parents[2]
SUITE = {
    "name": "stops",
    "dataset": {"name": "digits", "subset": 30},
    "backbone": {"name": "small-cnn", "embedding_dim": 16},
    "train": {"epochs": 200, "batch_size": 32, "optimizer": "adam", "lr": 1.0e-3},  # long: stopped midway
    "seeds": [0],
    "losses": [{"name": "cross-entropy", "label": "CE"}, {"name": "triplet", "label": "Triplet"}],
}


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = (Path(f"/proc/{pid}/stat")).read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _sigint_as_a_terminal_gives_it() -> None:
    """The command as typed at a terminal: SIGINT at its default. A test run started in the
    background of a non-interactive shell (`bash .ci/run &`) inherits SIGINT ignored, and Python
    then never turns Ctrl-C into KeyboardInterrupt: the pool trained to the end and exited 0."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow  # real subprocesses: ~10 s of CPU each (torch import in the parent and 2 workers)
@pytest.mark.parametrize("how, code", [("group-int", 130), ("parent-int", 130), ("parent-term", 143), ("parent-kill", -9)])
def test_stopping_a_pool_stops_every_worker(tmp_path, how, code):
    suite = tmp_path / "stops.yaml"
    suite.write_text(yaml.safe_dump(copy.deepcopy(SUITE)))
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    env.pop("MODBENCH_DEBUG", None)
    parent = subprocess.Popen(
        [sys.executable, "-m", "modbench", "compare", "--suite", str(suite), "--cache-dir", str(cache),
         "--device", "cpu", "--jobs", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=_sigint_as_a_terminal_gives_it,
    )
    workers: list[int] = []
    try:
        store = RunStore(cache)

        def both_checkpointed() -> bool:
            assert parent.poll() is None, parent.communicate()[1][-2000:]
            runs = store.all_runs()
            return len(runs) == 2 and all(r.checkpoint_file.is_file() for r in runs)

        wait_until(both_checkpointed, 240, "both workers to write a checkpoint")
        workers += [pid for pid in children(parent.pid) if "modbench" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                   or b"multiprocessing" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(workers) >= 2, workers
        t0 = time.monotonic()
        if how == "group-int":
            os.killpg(parent.pid, signal.SIGINT)
        elif how == "parent-int":
            parent.send_signal(signal.SIGINT)
        elif how == "parent-term":
            parent.send_signal(signal.SIGTERM)
        else:
            parent.send_signal(signal.SIGKILL)
        _, err = parent.communicate(timeout=60)
        assert parent.returncode == code, err[-2000:]
        wait_until(lambda: not any(alive(pid) for pid in workers), 15, "every worker to end")
        assert time.monotonic() - t0 < 30  # promptly, not after training 200 epochs
        if code > 0:
            assert "Traceback" not in err and err.strip().splitlines()[-1].startswith(("interrupted", "error: stopped by SIGTERM"))
        for run_dir in store.all_runs():  # the last epoch checkpoint of each run is intact
            state = run_dir.load_checkpoint()
            assert state is not None and 1 <= state["epoch"] < 200
            assert not run_dir.result_file.exists()
    finally:  # a failing test leaves no process behind either
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)
            parent.wait()
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
