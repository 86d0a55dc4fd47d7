"""Stops, pipes and encodings, each with a real subprocess of the CLI's main():
a closed stdout, a reader that went away, a full disk, an ASCII-only locale."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAIN = "import sys; sys.argv = ['modbench', *sys.argv[1:]]; from modbench.cli.app import main; main()"


def _env(cache: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "PYTHONUTF8", "LC_ALL", "LANG")}
    return {**env, "PYTHONPATH": str(ROOT), "MODBENCH_CACHE": str(cache), "OMP_NUM_THREADS": "1", **extra}


@pytest.fixture
def cached_suite(tmp_path):
    """A two-loss suite with a valid finished result per run (fake numbers, CPU, one thread)."""
    from helpers import write_finished

    from modbench.cache.store import RunStore
    from modbench.suite.loader import load_suite
    from modbench.suite.runs import resolve_runs

    suite_file = tmp_path / "s.yaml"
    suite_file.write_text(
        "name: s\ndataset: {name: digits}\nbackbone: {name: small-cnn}\n"
        "train: {epochs: 1, batch_size: 8, lr: 0.001}\nseeds: [0, 1]\n"
        "losses:\n  - {name: improved}\n  - {name: cross-entropy}\n"
    )
    suite, source = load_suite(str(suite_file))
    store = RunStore(tmp_path / "cache")
    eval_cfg = suite.eval.model_dump(mode="json")
    for i, run in enumerate(resolve_runs(suite, source)):
        write_finished(store, run, eval_cfg, {m: 0.5 + i / 100 for m in eval_cfg["metrics"]})
    return suite_file, store.root


def run(args, env, **kwargs):
    return subprocess.run([sys.executable, "-c", MAIN, *args], env=env, timeout=120, **kwargs)


def test_closed_stdout_is_no_traceback(tmp_path):
    proc = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-c", MAIN, "list"],
        env=_env(tmp_path / "cache"), capture_output=False, stderr=subprocess.PIPE, text=True, timeout=120,
    )
    assert "Traceback" not in proc.stderr and proc.stderr == ""
    assert proc.returncode == 0  # output discarded, as documented


def test_closed_stderr_still_prints_results_and_keeps_the_exit_code(tmp_path):
    ok = subprocess.run(["sh", "-c", 'exec "$@" 2>&-', "sh", sys.executable, "-c", MAIN, "list"],
                        env=_env(tmp_path / "cache"), capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "digits" in ok.stdout
    bad = subprocess.run(["sh", "-c", 'exec "$@" 2>&-', "sh", sys.executable, "-c", MAIN, "list", "nothing"],
                         env=_env(tmp_path / "cache"), capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2  # the error line went nowhere, the exit code still says it


@pytest.mark.parametrize("command", [["list"], ["report"], ["report", "--json"], ["report", "--csv"], ["compare"]])
def test_reader_gone_ends_quietly_with_141(cached_suite, command):
    suite_file, cache = cached_suite
    args = command + (["--suite", str(suite_file)] if command[0] != "list" else [])
    args += ["--device", "cpu"] if command[0] == "compare" else []
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write: every write breaks the pipe
    try:
        proc = run(args, _env(cache), stdout=write_end, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write_end)
    assert proc.returncode == 141, proc.stderr
    assert "BrokenPipe" not in proc.stderr and "Traceback" not in proc.stderr and "error" not in proc.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("fmt", [[], ["--json"]])
def test_full_disk_on_stdout_is_one_line_exit_2(cached_suite, fmt):
    suite_file, cache = cached_suite
    with open("/dev/full", "w") as full:
        proc = run(["report", "--suite", str(suite_file), *fmt], _env(cache), stdout=full, stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "No space left" in lines[0]


@pytest.mark.parametrize("env", [{"LC_ALL": "C", "PYTHONUTF8": "0"}, {"PYTHONIOENCODING": "ascii"}])
@pytest.mark.parametrize("command", ["report", "compare"])
def test_ascii_only_output_degrades_instead_of_failing(cached_suite, env, command):
    suite_file, cache = cached_suite
    device = ["--device", "cpu"] if command == "compare" else []
    proc = run([command, "--suite", str(suite_file), *device], _env(cache, **env), capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    text = proc.stdout.decode("ascii")  # raises if anything but ASCII came out
    assert "Table 1 layout - s" in text  # the em dash of the title, spelled in ASCII
    assert "+/-" in text  # mean +/- std over the two seeds
    blocks, block = [], []
    for line in text.splitlines() + [""]:
        if line.startswith(("|", "+")):
            block.append(line)
        elif block:
            blocks.append(block)
            block = []
    assert blocks and all(len({len(line) for line in b}) == 1 for b in blocks)  # columns stay aligned
    proc.stderr.decode("ascii")


def test_the_fallback_spells_known_characters_and_marks_the_rest():
    from modbench.cli.streams import ERRORS_HANDLER

    assert "a — b ± c ☃".encode("ascii", errors=ERRORS_HANDLER) == b"a - b +/- c ?"
