"""``torchrun --nproc-per-node 2 -m modbench train``: one run across two gloo processes.

Compared with the same runs trained by one process (the session's reference), the result must
land under the same run keys in the same cache layout, record ``world_size: 2``, and be close.
Close, not equal, because on the CPU each rank's BatchNorm normalises with the statistics of its
own half of the batch (SyncBatchNorm needs CUDA); the gradient arithmetic itself is exact (see
test_distributed.py). Measured on this suite: training losses within 0.5 % per epoch, Recall@1
within 0.05 (4 of the 90 test images). The tolerances below leave room for other seeds and
machines: 3 % on the per-epoch training loss, 0.1 on Recall@k.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from scaling_helpers import results_by_key, subprocess_env

LOSS_RTOL = 0.03
RECALL_ATOL = 0.1


@pytest.mark.slow  # real subprocesses: ~5 s of CPU each (torch import)
def test_two_processes_write_the_same_run_close_to_one_process(reference, tmp_path):
    suite, ref_cache = reference
    cache = tmp_path / "cache"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "modbench", "train", "--suite", str(suite), "--device", "cpu", "--cache-dir", str(cache)],
        env=subprocess_env(), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count(" trained  ") == 2  # rank 0 alone reports (2 runs, not 4 lines)
    ref, got = results_by_key(ref_cache), results_by_key(cache)
    assert sorted(got) == sorted(ref)  # the run key does not depend on the world size
    for key in ref:
        run = cache / "runs" / key
        assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in (ref_cache / "runs" / key).iterdir())
        assert got[key]["world_size"] == 2 and ref[key]["world_size"] == 1
        assert got[key]["config"] == ref[key]["config"]
        state = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)
        assert state["world_size"] == 2
        losses = [e["train_loss"] for e in json.loads((run / "history.json").read_text())]
        ref_losses = [e["train_loss"] for e in json.loads((ref_cache / "runs" / key / "history.json").read_text())]
        assert len(losses) == len(ref_losses) == 2
        for a, b in zip(losses, ref_losses):
            assert abs(a - b) <= LOSS_RTOL * abs(b), (key, losses, ref_losses)
        for k in (1, 2, 4, 8):
            name = f"recall@{k}"
            assert abs(got[key]["metrics"][name] - ref[key]["metrics"][name]) <= RECALL_ATOL, (key, name)
    # A plain command in a shell without OMP_NUM_THREADS (torchrun sets it to 1 in its ranks)
    # lists the runs torchrun trained: their thread count is the run's, not the shell's.
    plain = {k: v for k, v in subprocess_env().items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    for command in ("eval", "report"):
        listed = subprocess.run(
            [sys.executable, "-m", "modbench", command, "--suite", str(suite), "--cache-dir", str(cache), "--json"]
            + (["--device", "cpu"] if command == "eval" else []),
            env=plain, capture_output=True, text=True, timeout=300,
        )
        assert listed.returncode == 0, listed.stderr[-3000:]
        rows = [r for r in json.loads(listed.stdout) if r.get("seed") is not None]
        assert sorted(r["run"] for r in rows if r["status"] == "done") == sorted(ref), command
