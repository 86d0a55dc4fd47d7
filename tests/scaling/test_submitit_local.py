"""``--launcher slurm`` with submitit's LocalExecutor standing in for SLURM (the test-only
``--launcher submitit-local``: the same submission, waiting and gathering code, local processes).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from scaling_helpers import invoke, results_by_key

pytest.importorskip("submitit")


def test_submitted_jobs_fill_the_cache_and_failed_jobs_name_their_log(reference, tmp_path):
    suite, ref_cache = reference
    ref = results_by_key(ref_cache)
    ce_key = next(k for k, r in ref.items() if r["config"]["loss"]["name"] == "cross-entropy")
    triplet_key = next(k for k in ref if k != ce_key)
    cache, logs = tmp_path / "cache", tmp_path / "logs"
    (cache / "runs").mkdir(parents=True)
    (cache / "runs" / ce_key).write_text("not a folder")  # the job of this run cannot write: it dies
    args = ["--suite", suite, "--device", "cpu", "--cache-dir", cache, "--launcher", "submitit-local", "--slurm-log-dir", logs]

    first = invoke("compare", *args, "--json")
    assert first.exit_code == 1
    rows = {row["run"]: row for row in json.loads(first.stdout)}
    assert rows[triplet_key]["status"] == "done" and rows[ce_key]["status"] == "missing"
    assert results_by_key(cache)[triplet_key]["metrics"] == ref[triplet_key]["metrics"]
    warning = next(line for line in first.stderr.splitlines() if line.startswith("warning: run 'CE'"))
    assert "failed: FileExistsError" in warning or "failed: NotADirectoryError" in warning
    log = Path(re.search(r"; log: (\S+) ", warning).group(1))
    assert log.is_file() and log.parent == logs
    assert "FileExistsError" in log.read_text() or "NotADirectoryError" in log.read_text()
    assert len(list(logs.glob("*_submitted.pkl"))) == 2

    # a second call would submit the CE run alone: runs_to_launch is shared with --jobs, whose
    # test checks that finished runs are not launched again
