"""How throughput grows with processes: one run under torchrun, and a suite's runs with --jobs.

Everything runs as fresh subprocesses of the ``modbench`` command, in a temporary cache, on a
suite written to a temporary folder (digits, small-cnn, no downloads):

A. One run (cross-entropy), images/s of training, as the median of the per-epoch figures of
   ``history.json`` after the first epoch (an epoch's time includes rank 0's validation):
   * 1 process, 1 thread        (OMP_NUM_THREADS=1)
   * 1 process, all cores as threads
   * torchrun, N processes, 1 thread each (gloo on CPU, nccl on CUDA with --device cuda)
B. A suite of three losses, wall time of ``modbench train``:
   * one after another in one process (the default launcher), 1 thread and all cores as threads
   * ``--jobs 1`` (one worker process, all cores) and ``--jobs N`` (N workers, a share each)

Each configuration runs ``--repeat`` times; the best (fastest) is kept, because other processes
on a shared machine can only slow a run down. The load average is printed beside the numbers,
and so is the CPU time (user + system) of all the command's processes, start-up included: on a
busy machine wall times depend on the other users, CPU seconds much less (for B, equal CPU
seconds spread over N processes means N times the speed on N free cores).

    python benchmarks/scaling.py [--procs 2] [--epochs 6] [--batch-size 256] [--repeat 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SUITE = """\
name: scaling-bench
description: benchmarks/scaling.py
dataset: {{name: digits}}
backbone: {{name: small-cnn, embedding_dim: 64}}
train: {{epochs: {epochs}, batch_size: {batch}, lr: 1.0e-3, weight_decay: 4.0e-4}}
seeds: [0]
losses:
  - {{name: cross-entropy, label: CE}}
  - {{name: improved, label: New loss, params: {{beta: 4, gamma: 5}}}}
  - {{name: triplet, label: Triplet}}
"""


def env(threads: int | None) -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    if threads is None:
        e.pop("OMP_NUM_THREADS", None)
    else:
        e["OMP_NUM_THREADS"] = str(threads)
    return e


def cpu_seconds() -> float:
    """User + system time of every finished (waited-for) descendant process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cmd: list[str], threads: int | None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of all its processes) of one command."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    proc = subprocess.run(cmd, env=env(threads), capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - t0, cpu_seconds() - c0


def images_per_s(cache: Path) -> float:
    (run_dir,) = list((cache / "runs").iterdir())
    history = json.loads((run_dir / "history.json").read_text())
    return statistics.median(e["images_per_s"] for e in history[1:] or history)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=2, help="processes / jobs to compare with 1")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    py = sys.executable
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        suite = Path(tmp) / "suite.yaml"
        suite.write_text(SUITE.format(epochs=args.epochs, batch=args.batch_size))
        base = ["-m", "modbench", "train", "--suite", str(suite), "--device", args.device]

        def best(label: str, cmd_of, threads, measure) -> None:
            values = []
            for i in range(args.repeat):
                cache = Path(tmp) / f"cache-{len(rows)}-{i}"
                seconds, cpu = run(cmd_of(cache), threads)
                values.append({**measure(cache, seconds), "cpu_s": round(cpu, 1)})
            rows.append({"config": label, **max(values, key=lambda v: v["rate"])})

        one_run = [*base, "--loss", "cross-entropy"]
        ips = lambda cache, s: {"rate": images_per_s(cache), "unit": "images/s"}  # noqa: E731
        best("A  1 process, 1 thread", lambda c: [py, *one_run, "--cache-dir", str(c)], 1, ips)
        best(f"A  1 process, {cores} threads", lambda c: [py, *one_run, "--cache-dir", str(c)], None, ips)
        best(
            f"A  torchrun, {args.procs} processes x 1 thread",
            lambda c: [py, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(args.procs),
                       *one_run, "--cache-dir", str(c)],
            1, ips,
        )
        runs_per_s = lambda cache, s: {"rate": 3 / s, "unit": "runs/s", "wall_s": round(s, 2)}  # noqa: E731
        best("B  3 runs, one after another (1 thread)", lambda c: [py, *base, "--cache-dir", str(c)], 1, runs_per_s)
        best(f"B  3 runs, one after another ({cores} threads)", lambda c: [py, *base, "--cache-dir", str(c)], None, runs_per_s)
        best("B  3 runs, --jobs 1", lambda c: [py, *base, "--jobs", "1", "--cache-dir", str(c)], None, runs_per_s)
        best(f"B  3 runs, --jobs {args.procs}", lambda c: [py, *base, "--jobs", str(args.procs), "--cache-dir", str(c)], None, runs_per_s)
    info = {
        "machine": f"{platform.processor() or platform.machine()}, {cores} cores available, {platform.system()}",
        "python": platform.python_version(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "settings": vars(args),
    }
    if args.json:
        print(json.dumps({"info": info, "rows": rows}, indent=2))
        return
    print(f"machine: {info['machine']}; load average {info['load_average']}")
    print(f"digits, small-cnn, batch {args.batch_size}, {args.epochs} epochs, best of {args.repeat}")
    a_ref = next(r["rate"] for r in rows if r["config"].startswith("A  1 process, 1 thread"))
    b_ref = next(r["rate"] for r in rows if r["config"].startswith("B  3 runs, one after"))
    for r in rows:
        ref = a_ref if r["config"].startswith("A") else b_ref
        wall = f"  wall {r['wall_s']:5.1f} s" if "wall_s" in r else " " * 14
        print(f"{r['config']:<48} {r['rate']:>10.3g} {r['unit']:<9} x{r['rate'] / ref:.2f}{wall}  CPU {r['cpu_s']:5.1f} s")


if __name__ == "__main__":
    main()
