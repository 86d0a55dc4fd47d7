"""What pruning saves: epochs trained by a tune of the digits suite with a pruner against the same
number of unpruned trials (``--pruner none``), and the best validation metric each found.

Arms: any ``--pruner`` of ``modbench tune``, and ``optuna-asha``, Optuna's own
``SuccessiveHalvingPruner`` at the same rungs (``first_rung(epochs)`` x 1, 3, 9, ...; reduction
factor 3), which promotes ties: the default before ``modbench.tune.pruning.StrictHalvingPruner``,
kept here to show what the strict rule changes (it is not a ``tune`` option).

Each arm tunes every loss of the suite in this process, in its own fresh cache, through the same
code as ``modbench tune`` (``modbench.tune.session``); the epochs are those the engine trained
(the ``epochs_trained`` each trial records; nothing comes from the cache). The unpruned arm
trains ``trials x epochs`` epochs per loss by construction; it is run too, for its best values.

    OMP_NUM_THREADS=1 python benchmarks/tune_cost.py                 # 20 trials, 9 epochs
    OMP_NUM_THREADS=1 python benchmarks/tune_cost.py --trials 4 --epochs 3 --arms asha
    OMP_NUM_THREADS=1 python benchmarks/tune_cost.py --epochs 30 --arms asha,optuna-asha,none --parallel

``--parallel`` runs the jobs at once, one process each (one thread each): the epoch counts do
not depend on it; the wall times then share the machine's cores.

Cost and repeats: each (arm, sampler seed) is one job in its own process, so its CPU time
(``time.process_time``, user + system of that process: every trial, evaluation included) is its
own; it is printed beside the wall time and the epochs. ``--sampler-seeds 0,1,2`` repeats every
arm with the TPE sampler's seeds shifted (``modbench.tune.study.sampler_seed`` + an offset, the
same offset for every arm, so the arms of one seed draw the same first trials). Pruning is said to
cost a loss its best trial only where the pruned arm's best is below the unpruned arm's in every
one of at least 3 seeds; otherwise the table says how many seeds showed it.

    OMP_NUM_THREADS=1 python benchmarks/tune_cost.py --losses cross-entropy,improved --trials 8 --epochs 9 --sampler-seeds 0,1,2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _optuna_asha(epochs):
    import optuna

    from modbench.tune.pruning import first_rung

    return optuna.pruners.SuccessiveHalvingPruner(min_resource=first_rung(epochs), reduction_factor=3)


def run_arm(pruner: str, *, suite: str, trials: int, epochs: int, subset: int | None, metric: str,
            losses: tuple[str, ...] = (), sampler_offset: int = 0) -> dict:
    from modbench.tune.session import TuneSpec, make_trial_runner, open_session, results, tune_here

    if sampler_offset:  # this process only: every study's TPE seed shifted alike
        import modbench.tune.study as study

        base = study.sampler_seed
        study.sampler_seed = lambda name: (base(name) + 1_000_003 * sampler_offset) % 2**32

    if pruner == "optuna-asha":  # this process only: the study is named after the arm
        import modbench.tune.pruning as pruning

        real = pruning.make_pruner
        pruning.make_pruner = lambda name, epochs=None: _optuna_asha(epochs) if name == "optuna-asha" else real(name, epochs)
        pruning.PRUNERS = (*pruning.PRUNERS, "optuna-asha")

    with tempfile.TemporaryDirectory(prefix="modbench-tune-cost-") as cache:
        spec = TuneSpec(suite_ref=suite, losses=tuple(losses), trials=trials, metric=metric, pruner=pruner,
                        epochs=epochs, subset=subset, cache_root=cache, device="cpu")
        session = open_session(spec)
        runner = make_trial_runner(spec)
        t0, c0 = time.perf_counter(), time.process_time()
        tune_here(session, runner)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        per_loss = {t.label: best for t, best in results(session)}
    return {
        "pruner": pruner,
        "sampler_offset": sampler_offset,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "epochs_trained": sum(b["epochs_trained"] for b in per_loss.values()),
        "losses": {
            label: {k: b.get(k) for k in ("epochs_trained", "complete", "pruned", "failed", "best_value")}
            for label, b in per_loss.items()
        },
    }


def _arm_in_process(job) -> dict:
    import torch

    torch.set_num_threads(1)
    pruner, kwargs = job
    return run_arm(pruner, **kwargs)


def claims(arms: list[dict], metric: str) -> list[str]:
    """For each loss and each pruned arm: the paired difference of best values to ``none`` per
    sampler seed, and a claim of a cost only when it is negative in every seed of 3 or more."""
    by = {(a["pruner"], a["sampler_offset"]): a for a in arms}
    seeds = sorted({a["sampler_offset"] for a in arms})
    lines = []
    for pruner in sorted({a["pruner"] for a in arms} - {"none"}):
        for label in arms[0]["losses"]:
            diffs = []
            for s in seeds:
                a, b = by.get((pruner, s)), by.get(("none", s))
                va = a and a["losses"][label]["best_value"]
                vb = b and b["losses"][label]["best_value"]
                if va is not None and vb is not None:
                    diffs.append(va - vb)
            if not diffs:
                continue
            lower = sum(d < 0 for d in diffs)
            text = ", ".join(f"{d:+.4f}" for d in diffs)
            if len(diffs) >= 3 and lower == len(diffs):
                verdict = f"costs {label} its best trial in all {len(diffs)} seeds"
            elif len(diffs) < 3:
                verdict = f"no claim: {len(diffs)} seed(s), at least 3 needed"
            else:
                verdict = f"no consistent cost: lower in {lower} of {len(diffs)} seeds"
            lines.append(f"| {pruner} | {label} | {text} | {verdict} |")
    if lines:
        lines.insert(0, f"| pruner | loss | best {metric} minus `none`'s, per sampler seed | reading |\n| --- | --- | --- | --- |")
    return lines


def _cpu_model() -> str:
    from modbench.engine.backend import cpu_model

    return cpu_model()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="digits")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=9, help="epochs of every trial (ASHA rungs at 1, 3, 9)")
    parser.add_argument("--subset", type=int, default=None)
    parser.add_argument("--metric", default="map@r")
    parser.add_argument("--arms", default="asha,none", help="pruners to run, comma-separated")
    parser.add_argument("--losses", default="", help="only these losses (names or labels), comma-separated")
    parser.add_argument("--sampler-seeds", default="0", help="sampler seed offsets, comma-separated (3+ to claim a cost)")
    parser.add_argument("--jobs", type=int, default=1, help="(arm, seed) jobs at once, one process each")
    parser.add_argument("--parallel", action="store_true", help="run the arms at once, one process each")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()

    import torch

    load_before = os.getloadavg()
    kwargs = dict(suite=args.suite, trials=args.trials, epochs=args.epochs, subset=args.subset, metric=args.metric,
                  losses=tuple(x for x in args.losses.split(",") if x))
    names = args.arms.split(",")
    offsets = [int(x) for x in args.sampler_seeds.split(",")]
    jobs = [(p, {**kwargs, "sampler_offset": o}) for o in offsets for p in names]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # One process per job (spawned), so that each job's CPU time is its own.
    workers = len(jobs) if args.parallel else max(1, args.jobs)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1) as pool:
        arms = list(pool.map(_arm_in_process, jobs))
    losses = len(arms[0]["losses"])
    budget = args.trials * args.epochs * losses
    record = {
        "command": " ".join(["python", "benchmarks/tune_cost.py", *sys.argv[1:]]),
        "suite": args.suite, "parallel": args.parallel, "trials": args.trials, "epochs": args.epochs, "subset": args.subset, "metric": args.metric,
        "unpruned_epochs_by_construction": budget,
        "arms": arms,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
                    "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    record["machine"]["cpu_model"] = _cpu_model()
    print(f"{args.suite}: {losses} losses x {args.trials} trials x {args.epochs} epochs = {budget} epochs unpruned; "
          f"CPU: {record['machine']['cpu_model']} (/proc/cpuinfo), one torch thread per job")
    print("| pruner | sampler seed | epochs trained | share of unpruned | CPU time (s) | wall time (s) | "
          + " | ".join(f"best {args.metric}: {k}" for k in arms[0]["losses"]) + " |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | " + " | ".join("---:" for _ in arms[0]["losses"]) + " |")
    for arm in sorted(arms, key=lambda a: (a["pruner"], a["sampler_offset"])):
        best = " | ".join(f"{v['best_value']:.4f}" if v["best_value"] is not None else "—" for v in arm["losses"].values())
        print(f"| {arm['pruner']} | {arm['sampler_offset']} | {arm['epochs_trained']} | {arm['epochs_trained'] / budget:.0%} "
              f"| {arm['cpu_seconds']} | {arm['seconds']} | {best} |")
    for name in names:
        mine = [a for a in arms if a["pruner"] == name]
        print(f"{name}: mean over {len(mine)} seed(s): {sum(a['epochs_trained'] for a in mine) / len(mine):.0f} epochs, "
              f"{sum(a['cpu_seconds'] for a in mine) / len(mine):.1f} s CPU")
    print()
    print("\n".join(claims(arms, args.metric)))
    print(json.dumps(record["machine"]))
    if args.json:
        args.json.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
