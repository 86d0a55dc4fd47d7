"""Speed and peak memory of modbench's evaluation against faiss-cpu and scikit-learn.

For each size, clustered synthetic embeddings (L2-normalised, labels = clusters) are evaluated by:

- exact kNN, two tasks: ``knn8`` for Recall@1/2/4/8 and P@1 (k = 8), and ``knnR`` for those
  and MAP@R (k = R, the largest number of other samples of one label):
  * ``modbench/torch``: ``compute_metrics`` with those metrics, backend "torch" (modbench's own
    blocked search, candidates re-ranked, exhaustive search where needed);
  * ``modbench/faiss``: the same with backend "faiss";
  * ``faiss``: ``IndexFlatL2`` add + search for k + 1 neighbours (the query then dropped);
  * ``sklearn``: ``NearestNeighbors(algorithm="brute")`` fit + kneighbors for k + 1.
- k-means with k = number of classes, on all points, iterations capped at ``--kmeans-iters`` for
  every implementation (tol 0, one initialisation):
  * ``modbench``: ``modbench.metrics.kmeans`` (scikit-learn KMeans, k-means++) + NMI + F1;
  * ``faiss``: ``faiss.Kmeans`` (random initialisation; subsampling switched off);
  * ``sklearn``: ``sklearn.cluster.KMeans`` (k-means++), i.e. the code modbench calls.

Each run of a (size, task, tool) is its own subprocess, so its peak resident memory (``VmHWM``,
Python and the imported libraries included) is its own. Every library runs with its default
thread count (all cores). ``--repeats`` rounds go through all the tools in turn (so that a change
in the machine's load falls on all of them), and the best round of each is reported: wall-clock
time, and CPU time (all threads), which a machine shared with other work distorts less.

The defaults modbench chose on this machine (neighbour selection, CPU evaluation batch) are
measured side by side, one thread, by ``benchmarks/eval_tuning.py``.

    python benchmarks/eval_speed.py            # 10,000 x 512 and 100,000 x 128 (several minutes)
    python benchmarks/eval_speed.py --quick    # a small size, seconds
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

# Sizes: (name, N, D, classes). 100 classes at 10,000 (CIFAR-100's test set shape) and 1,000 at
# 100,000 keep R near 100; the third row is CIFAR-10's shape (R = 999).
FULL_SIZES = [("10k x 512", 10_000, 512, 100), ("100k x 128", 100_000, 128, 1000), ("10k x 512 (10 classes)", 10_000, 512, 10)]
QUICK_SIZES = [("2k x 64", 2_000, 64, 20)]

KNN_TOOLS = ["modbench/torch", "modbench/faiss", "faiss", "sklearn"]
TASKS = ["knn8", "knnR", "kmeans"]
KMEANS_TOOLS = ["modbench", "faiss", "sklearn"]


def make_data(n: int, d: int, classes: int, seed: int = 0):
    """Clustered float32 embeddings, L2-normalised: centre of the class + Gaussian noise."""
    import numpy as np

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    centres = rng.standard_normal((classes, d), dtype=np.float32)
    x = centres[labels]
    x += 0.8 * rng.standard_normal((n, d), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, labels.astype(np.int64)


def _recall_at_1(labels, idx_with_self):
    """Recall@1 from a neighbour list that may contain the query (dropped by index)."""
    import numpy as np

    n = len(labels)
    keep = idx_with_self != np.arange(n)[:, None]
    keep[keep.all(axis=1), -1] = False
    nb = idx_with_self[keep].reshape(n, -1)
    return float((labels[nb[:, 0]] == labels).mean())


def run_child(task: str, tool: str, n: int, d: int, classes: int, repeats: int, kmeans_iters: int) -> dict:
    """Runs in the subprocess: build the data, time the tool, return figures."""
    import numpy as np

    # Imports happen before the clock starts: a library's import time is not its speed.
    if tool.startswith("modbench"):
        import modbench.metrics.compute  # noqa: F401  (imports torch: the package itself is lazy)
    if "faiss" in tool:
        import faiss  # noqa: F401
    import sklearn.cluster  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import sklearn.neighbors  # noqa: F401

    after_imports = peak_rss_mb()
    x, y = make_data(n, d, classes)
    r_max = int(np.bincount(y).max()) - 1
    k = 8 if task == "knn8" else max(8, r_max)
    out: dict = {"k": k, "load_before": os.getloadavg()[0]}
    times, cpus = [], []

    if task in ("knn8", "knnR"):
        retrieval = ["recall@1", "recall@2", "recall@4", "recall@8", "p@1"] + (["map@r"] if task == "knnR" else [])
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            if tool.startswith("modbench/"):
                from modbench.metrics import compute_metrics

                res = compute_metrics(x, y, retrieval, backend=tool.split("/")[1])
                out["values"] = res.values
                out["exhaustive_queries"] = res.info["knn_exhaustive_queries"]
            elif tool == "faiss":
                import faiss

                index = faiss.IndexFlatL2(d)
                index.add(x)
                _, idx = index.search(x, k + 1)
                out["values"] = {"recall@1": _recall_at_1(y, idx)}
            elif tool == "sklearn":
                from sklearn.neighbors import NearestNeighbors

                nn = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(x)
                _, idx = nn.kneighbors(x)
                out["values"] = {"recall@1": _recall_at_1(y, idx)}
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
    elif task == "kmeans":
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            if tool == "modbench":
                from modbench.metrics import kmeans, nmi, pairwise_f1

                km = kmeans(x, classes, seed=0, n_init=1, max_iter=kmeans_iters, tol=0.0)
                out["values"] = {"nmi": nmi(y, km.labels), "f1": pairwise_f1(y, km.labels)}
                out["n_iter"] = km.n_iter
            elif tool == "faiss":
                import faiss

                km = faiss.Kmeans(d, classes, niter=kmeans_iters, seed=1, nredo=1, max_points_per_centroid=n, verbose=False)
                km.train(x)
                _, assign = km.index.search(x, 1)
                from sklearn.metrics import normalized_mutual_info_score

                out["values"] = {"nmi": float(normalized_mutual_info_score(y, assign[:, 0]))}
                out["n_iter"] = kmeans_iters
            elif tool == "sklearn":
                from sklearn.cluster import KMeans
                from sklearn.metrics import normalized_mutual_info_score

                km = KMeans(classes, init="k-means++", n_init=1, max_iter=kmeans_iters, tol=0.0, random_state=0)
                assign = km.fit_predict(x)
                out["values"] = {"nmi": float(normalized_mutual_info_score(y, assign))}
                out["n_iter"] = int(km.n_iter_)
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
    else:
        raise ValueError(task)
    out["times"] = times
    out["cpus"] = cpus
    out["best"] = min(times)
    out["cpu"] = min(cpus)
    out["load_after"] = os.getloadavg()[0]
    out["peak_rss_mb"] = peak_rss_mb()
    out["imports_rss_mb"] = after_imports
    return out


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM). Unlike ru_maxrss, it is not inherited from
    the parent across fork + exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def machine() -> dict:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = f.readline().split(":", 1)[1].strip()
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory": mem, "python": platform.python_version(), "platform": platform.platform()}


def versions() -> dict:
    v = {}
    for mod in ("numpy", "torch", "sklearn", "faiss"):
        try:
            v[mod] = __import__(mod).__version__
        except Exception as e:  # noqa: BLE001 - a missing library is reported, not fatal
            v[mod] = f"missing ({type(e).__name__})"
    try:
        import torch

        v["torch_threads"] = torch.get_num_threads()
        import faiss

        v["faiss_threads"] = faiss.omp_get_max_threads()
    except Exception:  # noqa: BLE001
        pass
    return v


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="one small size (seconds)")
    ap.add_argument("--repeats", type=int, default=1, help="timed runs per tool (best reported)")
    ap.add_argument("--kmeans-iters", type=int, default=20, help="iteration cap for every k-means (default 20)")
    ap.add_argument("--only", choices=TASKS, help="run one task only")
    ap.add_argument("--sizes", help="comma-separated size names to run (default: all of the mode)")
    ap.add_argument("--json", metavar="FILE", help="also write all figures as JSON")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--versions", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.versions:
        print(json.dumps(versions()))
        return 0

    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(run_child(**spec)))
        return 0

    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    if args.sizes:
        wanted = {s.strip() for s in args.sizes.split(",")}
        sizes = [s for s in sizes if s[0] in wanted]
    tasks = [args.only] if args.only else TASKS
    vproc = subprocess.run([sys.executable, __file__, "--versions"], capture_output=True, text=True)
    info = {"machine": machine(), "versions": json.loads(vproc.stdout) if vproc.returncode == 0 else vproc.stderr, "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
            "date": time.strftime("%Y-%m-%d"), "kmeans_iters": args.kmeans_iters, "repeats": args.repeats}
    print(json.dumps(info, indent=1), file=sys.stderr)
    results = []
    for name, n, d, classes in sizes:
        for task in tasks:
            tools = KMEANS_TOOLS if task == "kmeans" else KNN_TOOLS
            rows: dict = {}
            for rnd in range(args.repeats):
                for tool in tools:
                    spec = {"task": task, "tool": tool, "n": n, "d": d, "classes": classes,
                            "repeats": 1, "kmeans_iters": args.kmeans_iters}
                    t0 = time.perf_counter()
                    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True)
                    if proc.returncode != 0:
                        rows.setdefault(tool, {"size": name, "task": task, "tool": tool, "error": proc.stderr.strip().splitlines()[-1:]})
                        print(f"  {name:24s} {task:6s} {tool:15s} FAILED", file=sys.stderr)
                        continue
                    r = json.loads(proc.stdout.strip().splitlines()[-1])
                    row = rows.setdefault(tool, {"size": name, "task": task, "tool": tool, "rounds": []})
                    row["rounds"].append(r)
                    print(f"  {name:24s} {task:6s} {tool:15s} round {rnd + 1}: {r['best']:.2f} s wall, {r['cpu']:.2f} s CPU,"
                          f" {r['peak_rss_mb']:.0f} MB, load {r['load_before']:.1f}"
                          f" ({time.perf_counter() - t0:.0f} s with start-up)", file=sys.stderr)
            for tool in tools:
                row = rows.get(tool)
                if row is None or "rounds" not in row:
                    results.append(row or {"size": name, "task": task, "tool": tool, "error": "no run"})
                    continue
                rs = row["rounds"]
                best = min(rs, key=lambda r: r["best"])
                row.update({k: best[k] for k in ("k", "values") if k in best})
                row.update({k: best[k] for k in ("n_iter", "exhaustive_queries") if k in best})
                row["best"] = best["best"]
                row["cpu"] = min(r["cpu"] for r in rs)
                row["peak_rss_mb"] = max(r["peak_rss_mb"] for r in rs)
                row["imports_rss_mb"] = max(r["imports_rss_mb"] for r in rs)
                row["load"] = [min(r["load_before"] for r in rs), max(r["load_after"] for r in rs)]
                results.append(row)

    print(render(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"info": info, "results": results}, f, indent=1)
    return 0


def render(results: list[dict]) -> str:
    """A Markdown table: wall and CPU time with their ratios to faiss, peak memory, check values."""
    lines = [
        "| size | task | tool | wall (s) | vs faiss | CPU (s) | vs faiss | peak RSS (MB) | of which imports | load | check |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    base = {(r["size"], r["task"]): r for r in results if r["tool"] == "faiss" and "best" in r}
    for r in results:
        if "best" not in r:
            lines.append(f"| {r['size']} | {r['task']} | {r['tool']} | failed | | | | | | | {r.get('error')} |")
            continue
        b = base.get((r["size"], r["task"]))
        wall_ratio = f"{r['best'] / b['best']:.2f}x" if b else ""
        cpu_ratio = f"{r['cpu'] / b['cpu']:.2f}x" if b else ""
        vals = r.get("values", {})
        check = ", ".join(f"{k} {v:.4f}" for k, v in vals.items() if k in ("recall@1", "map@r", "nmi", "f1"))
        if r["task"] != "kmeans":
            check = f"k={r['k']}; " + check
        if "n_iter" in r:
            check += f"; {r['n_iter']} iterations"
        if r.get("exhaustive_queries"):
            check += f"; {r['exhaustive_queries']} exhaustive queries"
        lines.append(
            f"| {r['size']} | {r['task']} | {r['tool']} | {r['best']:.2f} | {wall_ratio} | {r['cpu']:.2f} | {cpu_ratio}"
            f" | {r['peak_rss_mb']:.0f} | {r['imports_rss_mb']:.0f} | {r['load'][0]:.1f}-{r['load'][1]:.1f} | {check} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
