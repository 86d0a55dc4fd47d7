"""Evaluation defaults measured on the machine at hand, side by side in one process, one thread.

Three parts, each printed with the CPU model as /proc/cpuinfo names it, CPU time (this process,
``time.process_time``) beside wall time, and ratios to the current default measured in the same
rounds (rounds interleave the variants, so that load from other jobs falls on all of them):

(1) *Neighbour selection* of the exact kNN (``modbench/metrics/knn_points.py: _smallest``, the
    candidate selection of step 1) at k = R, on the very blocks the search selects from: 10,000 x
    64 clustered embeddings (``eval_speed.make_data``), 10 classes (R = the largest class size
    minus one, about 1,000). Variants, each returning the ``kc`` smallest columns sorted:

    * the default: numpy's introselect (``argpartition``), then one numpy sort of packed
      (value, column) integer keys (``knn_points._sort_rows_cpu``);
    * ``argpartition+torch.sort`` (the default before): torch's sort of the kept values;
    * ``argpartition+numpy.argsort``: numpy's argsort of the kept values;
    * ``torch.topk``: one ``topk(sorted=True)``;
    * ``torch.sort``: a full sort of each row, then the first kc.

    The step-2 sort (``_stable_argsort``: numpy's stable sort, or torch's before) is timed with
    the metrics. Each variant is then patched into the search and the default metrics computed: the
    neighbours (indices and distances of ``knn``) and every metric must equal those of the
    default bit for bit, which the script checks and prints. (They must: step 2 re-ranks the
    candidates exactly, whatever order the selection leaves them in.)
(2) *Default metrics* (``compute_metrics``, every default metric, backend torch) on the same
    10,000 x 64 embeddings, per selection variant: CPU and wall seconds.
(3) *Evaluation batch* (``engine/evaluate.embed``): small-cnn (seeded, embedding 64) embedding the
    10,000 Fashion-MNIST test images (Debian's files, else synthetic uint8 images) at each batch
    size: images per CPU second, and whether the embeddings are bit-identical to those of batch
    1024 (the earlier default).

    OMP_NUM_THREADS=1 python benchmarks/eval_tuning.py [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_speed import make_data  # noqa: E402

from modbench.engine import backend  # noqa: E402
from modbench.metrics import knn_points  # noqa: E402

N, D, CLASSES = 10_000, 64, 10
BATCHES = (64, 128, 256, 512, 1024)


def _sorted_pick(v: torch.Tensor, pos: torch.Tensor, sort: str) -> tuple[torch.Tensor, torch.Tensor]:
    vals = torch.gather(v, 1, pos)
    if sort == "torch":
        vals, order = torch.sort(vals, dim=1)
    else:
        o = np.argsort(vals.numpy(), axis=1)
        order = torch.from_numpy(o)
        vals = torch.gather(vals, 1, order)
    return vals, torch.gather(pos, 1, order)


def sel_argpartition_torch_sort(v, k, sorted):
    pos = torch.from_numpy(knn_points._smallest_cpu(v.numpy(), k))
    if not sorted:
        return torch.gather(v, 1, pos), pos
    return _sorted_pick(v, pos, "torch")


def sel_argpartition_numpy_sort(v, k, sorted):
    pos = torch.from_numpy(knn_points._smallest_cpu(v.numpy(), k))
    if not sorted:
        return torch.gather(v, 1, pos), pos
    return _sorted_pick(v, pos, "numpy")


def sel_topk(v, k, sorted):
    return torch.topk(v, k, dim=1, largest=False, sorted=sorted)


def sel_full_sort(v, k, sorted):
    vals, pos = torch.sort(v, dim=1)
    return vals[:, :k].contiguous(), pos[:, :k].contiguous()


def sel_default(v, k, sorted):
    return ORIGINAL_SMALLEST(v, k, sorted)


def torch_argsort(key):
    return torch.argsort(key, dim=1, stable=True)


ORIGINAL_SMALLEST = knn_points._smallest
ORIGINAL_ARGSORT = knn_points._stable_argsort

# name -> (selection of step 1, stable argsort of step 2); the first is the current default.
VARIANTS = {
    "argpartition+packed sort, numpy argsort (default)": (sel_default, ORIGINAL_ARGSORT),
    "argpartition+torch.sort, torch argsort (before)": (sel_argpartition_torch_sort, torch_argsort),
    "argpartition+numpy.argsort": (sel_argpartition_numpy_sort, ORIGINAL_ARGSORT),
    "torch.topk": (sel_topk, ORIGINAL_ARGSORT),
    "torch.sort": (sel_full_sort, ORIGINAL_ARGSORT),
}
SLOW = {"torch.sort"}  # selection part only: 6x the others, it would dominate the run


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(t: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - t[0], time.process_time() - t[1]


def search_blocks(x: np.ndarray, k: int) -> list[torch.Tensor]:
    """The coarse-distance blocks step 1 selects from, as ``iter_knn`` cuts them (query block
    size from the memory budget; one chunk of all points)."""
    u = torch.from_numpy(x)
    search = knn_points.PointSearch(u, "torch", knn_points.DEFAULT_DB_BLOCK)
    kc = k + knn_points.candidate_pad(k)
    qb = int(max(64, min(4096, knn_points.DEFAULT_BLOCK_BYTES // (4 * (N + k + knn_points.candidate_pad(k))))))
    qb = int(max(1, min(qb, knn_points.DEFAULT_BLOCK_BYTES // (8 * (k + knn_points.candidate_pad(k))))))
    blocks = []
    for s in range(0, N, qb):
        q = torch.arange(s, min(N, s + qb))
        v = search._product(q, 0, N)
        v[torch.arange(len(q)), q] = float("inf")
        blocks.append(v)
    return blocks, kc


def bench_selection(x: np.ndarray, k: int, rounds: int) -> dict:
    blocks, kc = search_blocks(x, k)
    per = {name: [] for name in VARIANTS}
    for r in range(rounds):
        names = list(VARIANTS) if r % 2 == 0 else list(reversed(VARIANTS))
        for name in names:
            t = clock()
            for v in blocks:
                VARIANTS[name][0](v, kc, True)
            per[name].append(since(t))
    return {"k": k, "kc": kc, "blocks": len(blocks), "rows_per_block": int(blocks[0].shape[0]),
            "per": {n: {"wall_s": statistics.median(w for w, _ in t), "cpu_s": statistics.median(c for _, c in t)}
                    for n, t in per.items()}}


def bench_metrics(x: np.ndarray, y: np.ndarray, k: int, rounds: int) -> dict:
    from modbench.metrics import compute_metrics, knn

    out, ref = {}, None
    variants = [n for n in VARIANTS if n not in SLOW]
    per = {name: [] for name in variants}
    checks = {}
    try:
        for r in range(rounds):
            names = variants if r % 2 == 0 else list(reversed(variants))
            for name in names:
                knn_points._smallest, knn_points._stable_argsort = VARIANTS[name]
                t = clock()
                res = compute_metrics(x, y, backend="torch")
                per[name].append(since(t))
                if r == 0:
                    nb = knn(x / np.linalg.norm(x, axis=1, keepdims=True), k, backend="torch")
                    got = (nb.indices, nb.distances, res.values)
                    if ref is None:
                        ref = got
                    checks[name] = bool(np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1])
                                        and all(got[2][m] == ref[2][m] or (got[2][m] != got[2][m] and ref[2][m] != ref[2][m])
                                                for m in ref[2]))
    finally:
        knn_points._smallest, knn_points._stable_argsort = ORIGINAL_SMALLEST, ORIGINAL_ARGSORT
    for name, t in per.items():
        out[name] = {"wall_s": statistics.median(w for w, _ in t), "cpu_s": statistics.median(c for _, c in t),
                     "identical_to_first": checks.get(name)}
    return out


def bench_embed(rounds: int) -> dict:
    from modbench.datasets.base import DataSplits
    from modbench.engine.device_data import DeviceData
    from modbench.engine.evaluate import embed
    from modbench.engine.model import build_model

    try:
        from modbench.datasets import load_splits

        s = load_splits({"name": "fashion-mnist", "val_fraction": 0.1, "split_seed": 0, "subset": 10},
                        data_dir=None, download=False)
        images, source = s.test_images, "Fashion-MNIST test split (10,000 images)"
    except Exception:  # noqa: BLE001 - no files: synthetic images of the same shape
        g = torch.Generator().manual_seed(0)
        images, source = torch.randint(0, 256, (10_000, 1, 28, 28), dtype=torch.uint8, generator=g), "synthetic uint8"
        s = None
    labels = torch.zeros(len(images), dtype=torch.int64)
    splits = DataSplits("bench", 10, images[:2], labels[:2], images[:2], labels[:2], images, labels,
                        (0.2860,), (0.3530,)) if s is None else s
    data = DeviceData(splits, torch.device("cpu"))
    torch.manual_seed(0)
    model = build_model({"name": "small-cnn", "embedding_dim": 64}, in_channels=1, image_size=28)
    model.to(memory_format=torch.channels_last)
    embed(model, images[:256], data, batch_size=128)  # warm-up: oneDNN primitives
    per = {b: [] for b in BATCHES}
    outs = {}
    for r in range(rounds):
        for b in (BATCHES if r % 2 == 0 else tuple(reversed(BATCHES))):
            t = clock()
            e = embed(model, images, data, batch_size=b)
            per[b].append(since(t))
            outs[b] = e
    base = outs[1024]
    result = {"source": source, "images": len(images), "per": {}}
    for b, t in per.items():
        w = statistics.median(x for x, _ in t)
        c = statistics.median(x for _, x in t)
        result["per"][b] = {"wall_s": w, "cpu_s": c, "images_per_cpu_s": len(images) / c,
                            "identical_to_1024": bool(torch.equal(outs[b], base)),
                            "max_abs_diff_to_1024": float((outs[b] - base).abs().max())}
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: selection,metrics,embed")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    x, y = make_data(N, D, CLASSES)
    k = int(np.bincount(y).max()) - 1
    machine = {"cpu_model": backend.cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
               "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "numpy": np.__version__}
    from modbench.metrics import compute_metrics

    compute_metrics(x[:500], y[:500], backend="torch")  # imports and first-call costs, untimed
    result = {"machine": machine, "size": f"{N} x {D}, {CLASSES} classes", "rounds": args.rounds}
    if "selection" not in skip:
        result["selection"] = bench_selection(x, k, args.rounds)
    if "metrics" not in skip:
        result["metrics"] = bench_metrics(x, y, k, args.rounds)
    if "embed" not in skip:
        result["embed"] = bench_embed(args.rounds)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"CPU: {machine['cpu_model']} ({machine['cpu_capability']}), {machine['torch_threads']} thread(s), "
          f"torch {machine['torch']}, numpy {machine['numpy']}; medians of {args.rounds} interleaved rounds")
    first = next(iter(VARIANTS))
    if "selection" in result:
        s = result["selection"]
        print(f"\n(1) neighbour selection at k = R = {s['k']} (kc = {s['kc']} candidates), {s['blocks']} blocks of "
              f"{s['rows_per_block']} x {N} coarse distances, {result['size']}")
        print(f"| selection | wall s | CPU s | CPU vs {first} |\n| --- | ---: | ---: | ---: |")
        base = s["per"][first]["cpu_s"]
        for n, t in s["per"].items():
            print(f"| {n} | {t['wall_s']:.3f} | {t['cpu_s']:.3f} | {t['cpu_s'] / base:.2f}x |")
    if "metrics" in result:
        m = result["metrics"]
        print(f"\n(2) default metrics (compute_metrics, backend torch), {result['size']}")
        print(f"| selection | wall s | CPU s | CPU vs {first} | neighbours and metrics identical |\n| --- | ---: | ---: | ---: | --- |")
        base = m[first]["cpu_s"]
        for n, t in m.items():
            print(f"| {n} | {t['wall_s']:.2f} | {t['cpu_s']:.2f} | {t['cpu_s'] / base:.2f}x | {t['identical_to_first']} |")
    if "embed" in result:
        e = result["embed"]
        print(f"\n(3) embedding, small-cnn (embedding 64), {e['source']}")
        print("| batch | wall s | CPU s | images per CPU s | CPU vs 1024 | identical to batch 1024 |\n| ---: | ---: | ---: | ---: | ---: | --- |")
        base = e["per"][1024]["cpu_s"]
        for b, t in e["per"].items():
            same = "yes" if t["identical_to_1024"] else f"no (max diff {t['max_abs_diff_to_1024']:.1e})"
            print(f"| {b} | {t['wall_s']:.2f} | {t['cpu_s']:.2f} | {t['images_per_cpu_s']:.0f} | {t['cpu_s'] / base:.2f}x | {same} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
