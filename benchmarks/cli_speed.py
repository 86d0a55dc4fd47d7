"""Start-up and cached-path timings of the ``modbench`` command, as a user runs it.

Creates, in a temporary folder, a suite YAML whose sweep expands to 200 runs (the paper's loss
over 25 beta x 4 gamma values, 2 seeds) and a cache holding a finished, valid result for each
of them (written through modbench's own RunStore, with the keys modbench computes for that suite);
then times, each as a fresh subprocess (the CLI's ``main()``, as ``python -m modbench`` runs it),
median of ``--repeat`` runs, wall time and CPU time:

* ``modbench --help``             goal: median < 0.3 s
* ``modbench list``
* ``modbench report --suite S``   over the 200 cached runs; goal: median < 2 s
* ``modbench compare --suite S``  the same 200 runs, all cached (nothing to train): planned from
  the cache without importing torch or the engine; goal: median < 1 s, and printed beside
  ``report`` as a ratio (compare / report)

Prints a table, or ``--json``. Also reports whether torch was imported by each command.

    python benchmarks/cli_speed.py [--repeat 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOALS = {"modbench --help": 0.3, "modbench report": 2.0, "modbench compare": 1.0}
BETAS = [round(0.5 + 0.5 * i, 2) for i in range(25)]
GAMMAS = [1, 3, 5, 10]
SEEDS = [0, 1]

SUITE = f"""\
name: cli-speed-sweep
description: 200 cached runs for benchmarks/cli_speed.py (fake results, valid format).
dataset: {{name: digits}}
backbone: {{name: small-cnn, embedding_dim: 64}}
train: {{epochs: 30, batch_size: 128, lr: 1.0e-3, weight_decay: 4.0e-4}}
seeds: {SEEDS}
losses:
  - name: improved
    label: New loss
    params: {{beta: {BETAS}, gamma: {GAMMAS}}}
"""

# Runs the CLI exactly as ``python -m modbench`` does, then says on stderr whether torch was
# imported (sys.modules at exit).
PROBE = """\
import atexit, sys
atexit.register(lambda: sys.stderr.write("\\nTORCH_IMPORTED=%d\\n" % ("torch" in sys.modules)))
sys.argv = ["modbench", *sys.argv[1:]]
from modbench.cli.app import main
main()
"""


def make_cache(root: Path) -> tuple[Path, Path, int]:
    """The suite file and a cache with a fake finished result for each of its runs."""
    from modbench.cache.store import RunStore
    from modbench.suite.loader import load_suite
    from modbench.suite.runs import resolve_runs

    suite_path = root / "cli-speed-sweep.yaml"
    suite_path.write_text(SUITE)
    suite, source = load_suite(str(suite_path))
    runs = resolve_runs(suite, source)
    store = RunStore(root / "cache")
    eval_cfg = suite.eval.model_dump(mode="json")
    for i, run in enumerate(runs):
        run_dir = store.run(run.key)
        run_dir.write_config(run.config)
        # Plausible numbers that differ by run, so the aggregation has something to do.
        base = 0.5 + 0.4 * ((i * 37) % 100) / 100
        metrics = {m: round(min(1.0, base + 0.01 * j), 4) for j, m in enumerate(eval_cfg["metrics"])}
        run_dir.write_history([{"epoch": e + 1, "train_loss": 1.0 / (e + 1), "val": {}, "seconds": 0.1,
                                "images_per_s": 1000.0} for e in range(3)])
        run_dir.save_checkpoint({"epoch": 30})  # a result points at a checksummed checkpoint
        run_dir.write_result({
            "key": run.key, "config": run.config, "metrics": metrics,
            "metric_info": {"backend": "torch", "kmeans": {"seed": 0, "n_init": 1}},
            "eval": eval_cfg, "checkpoint": {"select": "last", "epoch": 30}, "epochs": 30,
            "train_seconds": 12.3, "device": "cpu", "data": {"train": 1293, "val": 144, "test": 359},
            "numerics": {"device": "cpu", "precision": "float32", "cpu_threads": 1}, "cpu_threads": 1,
            "versions": {"modbench": "0.1.0"}, "date": "2026-01-01T00:00:00+00:00",
        })
    return suite_path, store.root, len(runs)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_command(args: list[str], repeat: int, env: dict[str, str]) -> dict:
    """Wall time (what the user waits) and CPU time (user + system of the child: what the
    command itself costs, much less sensitive to other jobs on a shared machine)."""
    times, cpu, torch_imported, code = [], [], None, None
    for _ in range(repeat):
        c0, t0 = _children_cpu(), time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - t0)
        cpu.append(_children_cpu() - c0)
        code = proc.returncode
        torch_imported = "TORCH_IMPORTED=1" in proc.stderr
        if code != 0:
            raise SystemExit(f"modbench {' '.join(args)} exited {code}:\n{proc.stderr[-2000:]}")
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "cpu_median_s": statistics.median(cpu), "runs": repeat, "imports_torch": torch_imported,
            "exit_code": code}


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": cpu, "python": sys.version.split()[0],
            "load_average_1min": round(os.getloadavg()[0], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7, help="runs per command (median reported)")
    parser.add_argument("--json", action="store_true", help="JSON on stdout")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="modbench-cli-speed-") as tmp:
        suite_path, cache, n_runs = make_cache(Path(tmp))
        # One CPU thread: the numerics the fake results record, which compare checks (without torch).
        env = {**os.environ, "MODBENCH_CACHE": str(cache), "COLUMNS": "120", "OMP_NUM_THREADS": "1"}
        commands = {
            "modbench --help": ["--help"],
            "modbench list": ["list"],
            "modbench report": ["report", "--suite", str(suite_path)],
            "modbench compare": ["compare", "--suite", str(suite_path), "--device", "cpu"],
        }
        rows = []
        for name, argv in commands.items():
            r = time_command(argv, args.repeat, env)
            goal = GOALS.get(name)
            rows.append({"command": name, **r, "goal_s": goal,
                         "meets_goal": None if goal is None else r["median_s"] < goal})
        report_s = next(r["median_s"] for r in rows if r["command"] == "modbench report")
        for r in rows:
            r["ratio_to_report"] = r["median_s"] / report_s
        # The report and the compare really covered the cached runs (nothing "missing"):
        for command in ("report", "compare"):
            device = ["--device", "cpu"] if command == "compare" else []
            out = subprocess.run([sys.executable, "-m", "modbench", command, "--suite", str(suite_path), "--json", *device],
                                 capture_output=True, text=True, env=env)
            records = json.loads(out.stdout)
            done = sum(1 for r in records if r.get("status") == "done" and r.get("run"))  # runs, not aggregates
            if done != n_runs:
                raise SystemExit(f"{command} shows {done} finished runs, expected {n_runs}")

    info = {"cached_runs": n_runs, **machine()}
    if args.json:
        print(json.dumps({"machine": info, "results": rows}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"modbench start-up ({n_runs} cached runs; {info['cpus']} CPUs, {info['cpu_model']}, "
                  f"load average {info['load_average_1min']})", title_justify="left")
    for col in ("command", "median s", "min s", "max s", "CPU s (median)", "/ report", "goal", "imports torch"):
        table.add_column(col, justify="left" if col == "command" else "right")
    for r in rows:
        goal = "" if r["goal_s"] is None else f"< {r['goal_s']} s " + ("ok" if r["meets_goal"] else "MISSED")
        table.add_row(r["command"], f"{r['median_s']:.3f}", f"{r['min_s']:.3f}", f"{r['max_s']:.3f}",
                      f"{r['cpu_median_s']:.3f}", f"{r['ratio_to_report']:.2f}", goal,
                      "yes" if r["imports_torch"] else "no")
    Console(width=max(Console().width, 120)).print(table)


if __name__ == "__main__":
    main()
