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

``--parallel`` runs the arms at once, one process each (one thread each): the epoch counts do
not depend on it; the wall times then share the machine's cores.
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


def run_arm(pruner: str, *, suite: str, trials: int, epochs: int, subset: int | None, metric: str) -> dict:
    from modbench.tune.session import TuneSpec, make_trial_runner, open_session, results, tune_here

    if pruner == "optuna-asha":  # this process only: the study is named after the arm
        import modbench.tune.pruning as pruning

        real = pruning.make_pruner
        pruning.make_pruner = lambda name, epochs=None: _optuna_asha(epochs) if name == "optuna-asha" else real(name, epochs)
        pruning.PRUNERS = (*pruning.PRUNERS, "optuna-asha")

    with tempfile.TemporaryDirectory(prefix="modbench-tune-cost-") as cache:
        spec = TuneSpec(suite_ref=suite, trials=trials, metric=metric, pruner=pruner, epochs=epochs,
                        subset=subset, cache_root=cache, device="cpu")
        session = open_session(spec)
        runner = make_trial_runner(spec)
        t0 = time.perf_counter()
        tune_here(session, runner)
        seconds = time.perf_counter() - t0
        per_loss = {t.label: best for t, best in results(session)}
    return {
        "pruner": pruner,
        "seconds": round(seconds, 1),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="digits")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=9, help="epochs of every trial (ASHA rungs at 1, 3, 9)")
    parser.add_argument("--subset", type=int, default=None)
    parser.add_argument("--metric", default="map@r")
    parser.add_argument("--arms", default="asha,none", help="pruners to run, comma-separated")
    parser.add_argument("--parallel", action="store_true", help="run the arms at once, one process each")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()

    import torch

    load_before = os.getloadavg()
    kwargs = dict(suite=args.suite, trials=args.trials, epochs=args.epochs, subset=args.subset, metric=args.metric)
    names = args.arms.split(",")
    if args.parallel:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(len(names), mp_context=multiprocessing.get_context("spawn")) as pool:
            arms = list(pool.map(_arm_in_process, [(p, kwargs) for p in names]))
    else:
        arms = [run_arm(p, **kwargs) for p in names]
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
    print(f"{args.suite}: {losses} losses x {args.trials} trials x {args.epochs} epochs = {budget} epochs unpruned")
    print("| pruner | epochs trained | share of unpruned | wall time (s) | " + " | ".join(f"best {args.metric}: {k}" for k in arms[0]["losses"]) + " |")
    print("| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in arms[0]["losses"]) + " |")
    for arm in arms:
        best = " | ".join(f"{v['best_value']:.4f}" if v["best_value"] is not None else "—" for v in arm["losses"].values())
        print(f"| {arm['pruner']} | {arm['epochs_trained']} | {arm['epochs_trained'] / budget:.0%} | {arm['seconds']} | {best} |")
    print(json.dumps(record["machine"]))
    if args.json:
        args.json.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
