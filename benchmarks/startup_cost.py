"""CPU time from process start to the end of the first training step of a small-cnn run, as a
user starts it (``modbench train``), on digits and on Fashion-MNIST, old and new code side by side.

Each start is a fresh ``python`` process that runs the CLI's ``main()`` on a one-loss, one-epoch
suite with an empty run cache; a probe wrapped around the engine's training step
(``engine/loop._step``) notes the process's CPU time (user + system, ``os.times``) when the first
step is done and exits. Marks on the way (CPU seconds since process start): ``import torch``,
the run's data loaded (``Runner.load_data``), the optimizer built (``build_optimizers``: torch's
optimizers import ``torch._dynamo`` on construction), the first step done.

Variants, run in turn in each round (so that load from other jobs falls on all of them):

* ``before``: the code of ``--before`` (a git commit; default the parent of the decoded-splits
  cache), unpacked with ``git archive`` into a temporary folder: every process decodes its data;
* ``after, data cache empty``: the working tree's code, first process on a cache (decodes, then
  stores the splits in ``<cache>/data/``);
* ``after, data cache filled``: the working tree's code on a cache whose ``data/`` holds the
  splits (what every later process, ``--jobs`` worker and tuning process finds).

Reported: medians over ``--starts`` rounds of wall and CPU seconds, the CPU marks of the median
start, and the CPU model as /proc/cpuinfo names it.

    OMP_NUM_THREADS=1 python benchmarks/startup_cost.py [--starts 3] [--before COMMIT] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BEFORE = "2b1fa72"  # the commit before the decoded-splits cache and the kNN sort changes

SUITES = {
    "digits": """\
name: startup-digits
dataset: {name: digits}
backbone: {name: small-cnn, embedding_dim: 64}
train: {epochs: 1, batch_size: 128, optimizer: adam, lr: 1.0e-3}
seeds: [0]
losses:
  - {name: improved, label: New loss, params: {beta: 4, gamma: 5}}
""",
    # fashion-mnist-cpu's data and batches (400 images per class, m-per-class batches of 80).
    "fashion-mnist": """\
name: startup-fashion
dataset: {name: fashion-mnist, subset: 400}
backbone: {name: small-cnn, embedding_dim: 64}
train: {epochs: 1, batch_size: 80, optimizer: adam, lr: 1.0e-3, sampler: m-per-class, m: 4}
seeds: [0]
losses:
  - {name: improved, label: New loss, params: {beta: 4, gamma: 10}}
""",
}

PROBE = r"""
import os, sys, json
def cpu():
    t = os.times(); return t.user + t.system
marks = {}
import torch
marks["import torch"] = cpu()
import modbench.engine.loop as L, modbench.engine.runner as R, modbench.engine.optim as O, modbench.engine.train as T
def after(obj, name, label):
    f = getattr(obj, name)
    def w(*a, **k):
        out = f(*a, **k); marks.setdefault(label, cpu()); return out
    setattr(obj, name, w)
after(R.Runner, "load_data", "data loaded")
after(O, "build_optimizers", "optimizer built")
T.build_optimizers = O.build_optimizers
step = L._step
def first(*a, **k):
    out = step(*a, **k); float(out)
    marks["first step done"] = cpu()
    sys.stderr.write("PROBE " + json.dumps({**marks, "torch._dynamo imported": "torch._dynamo" in sys.modules,
                                           "sklearn imported": "sklearn" in sys.modules,
                                           "code": os.path.dirname(os.path.dirname(L.__file__))}) + "\n")
    sys.stderr.flush(); os._exit(0)
L._step = first
from modbench.cli.app import main
sys.argv = ["modbench", *sys.argv[1:]]
main()
"""


def one_start(code: Path, suite: Path, cache: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    env.pop("MODBENCH_CACHE", None)
    w0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", PROBE, "train", "--suite", str(suite), "--cache-dir", str(cache)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=code)
    _, err = proc.communicate()
    wall = time.perf_counter() - w0
    line = next((x for x in err.splitlines() if x.startswith("PROBE ")), None)
    if line is None:
        raise SystemExit(f"start-up probe failed ({code}):\n{err[-3000:]}")
    marks = json.loads(line[len("PROBE "):])
    return {"wall_s": wall, "cpu_s": marks["first step done"], "marks": marks}


def unpack(commit: str, dest: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "modbench"], capture_output=True, check=True)
    dest.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--starts", type=int, default=3)
    ap.add_argument("--before", default=DEFAULT_BEFORE, help=f"git commit of the old code [{DEFAULT_BEFORE}]")
    ap.add_argument("--datasets", default="digits,fashion-mnist")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from modbench.engine.backend import cpu_model

    tmp = Path(tempfile.mkdtemp(prefix="modbench-startup-"))
    try:
        before = unpack(args.before, tmp / "before")
        result = {"cpu_model": cpu_model(), "starts": args.starts, "before": args.before,
                  "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "datasets": {}}
        for name in args.datasets.split(","):
            suite = tmp / f"{name}.yaml"
            suite.write_text(SUITES[name])
            primed = tmp / f"primed-{name}"
            one_start(ROOT, suite, primed)  # fills primed/data for the "filled" variant
            per: dict[str, list] = {"before": [], "after, data cache empty": [], "after, data cache filled": []}
            for r in range(args.starts):
                order = list(per) if r % 2 == 0 else list(reversed(per))
                for variant in order:
                    cache = tmp / f"cache-{name}-{r}-{len(per[variant])}-{variant.split(',')[0]}{variant[-6:]}".replace(" ", "")
                    if variant.endswith("filled"):
                        shutil.copytree(primed / "data", cache / "data")
                    code = before if variant == "before" else ROOT
                    per[variant].append(one_start(code, suite, cache))
                    shutil.rmtree(cache, ignore_errors=True)
            rows = {}
            for variant, starts in per.items():
                med = sorted(starts, key=lambda s: s["cpu_s"])[len(starts) // 2]
                rows[variant] = {"wall_s": statistics.median(s["wall_s"] for s in starts),
                                 "cpu_s": statistics.median(s["cpu_s"] for s in starts), "marks": med["marks"]}
            result["datasets"][name] = rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"CPU: {result['cpu_model']} (/proc/cpuinfo), OMP_NUM_THREADS={result['omp_num_threads']}; "
          f"median of {args.starts} starts per variant; before = commit {args.before}")
    for name, rows in result["datasets"].items():
        print(f"\n{name}: process start to the end of the first training step (small-cnn, `modbench train`)")
        print("| variant | wall s | CPU s | CPU marks: import torch / data loaded / optimizer built / first step |")
        print("| --- | ---: | ---: | --- |")
        for variant, row in rows.items():
            m = row["marks"]
            marks = " / ".join(f"{m.get(k, float('nan')):.2f}" for k in
                               ("import torch", "data loaded", "optimizer built", "first step done"))
            print(f"| {variant} | {row['wall_s']:.2f} | {row['cpu_s']:.2f} | {marks} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
