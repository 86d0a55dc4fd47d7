"""``compute_metrics``: every metric of DESIGN.md section 2 on one set of embeddings, in one pass.

The kNN search runs once for all neighbour metrics (Recall@k, p@1, MAP@R, macro-F1) one query
block at a time, so no neighbour list of all N queries is held either; k-means runs once for NMI
and F1. Pure: no printing, no files.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

from modbench.metrics import clustering_metrics, retrieval
from modbench.metrics.clustering import KMEANS_MAX_ITER, KMEANS_TOL, kmeans
from modbench.metrics.knn_search import iter_knn, resolve_backend
from modbench.metrics.names import (
    CLUSTERING_METRICS,
    DEFAULT_METRICS,
    MetricError,
    check_metric_names,
    parse_metric_names,
    recall_k,
)


@dataclass
class MetricResult:
    """``values``: metric name -> value, in the order asked (NaN where undefined and not strict).

    ``info``: what could change a number (backend, k-means settings, distance, normalisation,
    sizes, package versions) and, under ``undefined``, why a metric is NaN.
    """

    values: dict[str, float]
    info: dict = field(default_factory=dict)


def _versions(backend: str) -> dict[str, str]:
    import sklearn

    import modbench

    v = {
        "modbench": modbench.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
    }
    if backend == "faiss":
        import faiss

        v["faiss"] = faiss.__version__
    return v


def _as_tensor(embeddings, device) -> torch.Tensor:
    if isinstance(embeddings, torch.Tensor):
        x = embeddings.detach()
    else:
        arr = np.asarray(embeddings)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise MetricError(f"embeddings must be an array of floats, got dtype {arr.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(arr))
    if device is not None:
        x = x.to(torch.device(device))
    return x


def _as_labels(labels) -> np.ndarray:
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    y = np.asarray(labels)
    if y.ndim != 1:
        raise MetricError(f"labels must be one integer per sample ([N]), got shape {y.shape}")
    if y.dtype == bool or not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and y.size and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
            y = y.astype(np.int64)  # 3.0 -> 3; 3.5 is an error below
        elif y.size:
            raise MetricError(f"labels must be integers, got dtype {y.dtype}")
    return y.astype(np.int64)


def _prepare(x: torch.Tensor, normalize: bool) -> tuple[torch.Tensor, int]:
    """float32 copy for the search: finite check, zero rows counted, rows L2-normalised.

    Scale-robust (issue 12): in float64, each row is first divided by its largest absolute value,
    then by its L2 norm, so no square overflows or underflows, whatever the input's scale (float32
    x 1e19 squared is inf in float32; float64 x 1e-320 squared is 0). A zero row stays zero.
    """
    if x.dtype not in (torch.float16, torch.float32, torch.float64):
        x = x.float()  # bfloat16, integers
    a = x.double()
    if a.numel() and not bool(torch.isfinite(a).all()):
        raise MetricError("embeddings contain NaN or infinite values")
    peak = a.abs().amax(dim=1) if a.numel() else torch.zeros(a.shape[0], dtype=a.dtype, device=a.device)
    zero_rows = int((peak == 0).sum())
    if normalize and a.numel():
        a = a / torch.where(peak == 0, 1.0, peak).unsqueeze(1)
        norms = torch.sqrt((a * a).sum(dim=1))  # between 1 and sqrt(D) for non-zero rows
        a = a / torch.where(norms == 0, 1.0, norms).unsqueeze(1)
    return a.float().contiguous(), zero_rows


def _undefined_reason(name: str, y: np.ndarray) -> str | None:
    """Why ``name`` cannot be computed for these labels, or None. Depends on the labels only."""
    try:
        if name in CLUSTERING_METRICS:
            # nmi / f1 are undefined for a label vector exactly when they are undefined against
            # any partition of it; probing with the labels themselves costs O(N), no k-means.
            (clustering_metrics.nmi if name == "nmi" else clustering_metrics.pairwise_f1)(y, y)
        else:
            retrieval.require_pairs(name, y)
    except MetricError as e:
        return str(e)
    return None


def compute_metrics(
    embeddings,
    labels,
    metrics: str | Iterable[str] = DEFAULT_METRICS,
    *,
    normalize: bool = True,
    device=None,
    backend: str = "auto",
    kmeans_seed: int = 0,
    kmeans_n_init: int = 1,
    block_size: int | None = None,
    strict: bool = True,
) -> MetricResult:
    """The metrics named in ``metrics`` on ``embeddings`` [N, D] (float16/32/64) with ``labels`` [N].

    ``normalize``: L2-normalise each row first (DESIGN.md: all metrics on L2-normalised
    embeddings). ``device``: where the torch kNN runs (default: the tensor's device, else CPU).
    ``backend``: "auto" (faiss when installed and on CPU, else torch), "torch" or "faiss"; the
    neighbours are identical either way. ``strict``: a metric undefined on this input raises
    MetricError naming it and why; with ``strict=False`` it is NaN and the reason is in
    ``info["undefined"]``. Computation is on a float32 copy; the kNN is exact (see knn_search.py).
    """
    names = parse_metric_names(metrics)
    x = _as_tensor(embeddings, device)
    y = _as_labels(labels)
    if x.dim() != 2:
        raise MetricError(f"embeddings must be a 2-D array [N, D], got shape {tuple(x.shape)}")
    if x.is_complex() or x.dtype == torch.bool:
        raise MetricError(f"embeddings must be real numbers, got {x.dtype}")
    n, dim = x.shape
    if y.shape[0] != n:
        raise MetricError(f"embeddings and labels differ in length: {n} rows vs {y.shape[0]} labels")
    if dim < 1:
        raise MetricError("embeddings have 0 columns")
    input_dtype = str(x.dtype).replace("torch.", "")
    x, zero_rows = _prepare(x, normalize)
    if n >= 2:  # with fewer, every metric is undefined (below)
        check_metric_names(names, n)

    be = resolve_backend(backend, x.device)
    num_classes = int(np.unique(y).size)

    values: dict[str, float] = {}
    undefined: dict[str, str] = {}
    for name in names:
        reason = _undefined_reason(name, y) if n >= 2 else f"{name} is undefined: it needs at least 2 samples, got {n}"
        if reason is not None:
            if strict:
                raise MetricError(reason)
            undefined[name] = reason
        values[name] = math.nan

    wanted = [m for m in names if m not in undefined]
    recall_ks = {m: recall_k(m) for m in wanted if recall_k(m) is not None}
    need_knn = bool(recall_ks) or any(m in ("p@1", "map@r", "macro_f1") for m in wanted)
    exhaustive = 0
    if need_knn:
        k_rows = np.full(n, max([1, *recall_ks.values()]), dtype=np.int64)
        r = retrieval.r_per_query(y)
        if "map@r" in wanted:
            k_rows = np.maximum(k_rows, r)
        hits = {m: 0 for m in recall_ks}
        p1_hits = 0
        ap_sum = 0.0
        predicted = np.empty(n, dtype=np.int64)
        knn_blocks = iter_knn(x, np.minimum(k_rows, n - 1), backend=be, block_size=block_size, distances=False, labels=y)
        for blk in knn_blocks:
            idx = blk.indices
            qy = y[blk.start : blk.stop]
            match = retrieval.match_rows(y, qy, idx)
            for m, k in recall_ks.items():
                hits[m] += int(retrieval.hits_rows(match, k).sum())
            p1_hits += int(match[:, 0].sum())
            predicted[blk.start : blk.stop] = y[idx[:, 0]]
            if "map@r" in wanted:
                ap_sum += float(retrieval.average_precision_at_r_rows(match, r[blk.start : blk.stop]).sum())
            exhaustive += blk.exhaustive_queries
        for m in recall_ks:
            values[m] = hits[m] / n
        if "p@1" in wanted:
            values["p@1"] = p1_hits / n
        if "map@r" in wanted:
            values["map@r"] = ap_sum / n
        if "macro_f1" in wanted:
            values["macro_f1"] = retrieval.macro_f1_from_predictions(y, predicted)

    km = None
    if any(m in CLUSTERING_METRICS for m in wanted):
        km = kmeans(x.cpu().numpy(), num_classes, seed=kmeans_seed, n_init=kmeans_n_init)
        if "nmi" in wanted:
            values["nmi"] = clustering_metrics.nmi(y, km.labels)
        if "f1" in wanted:
            values["f1"] = clustering_metrics.pairwise_f1(y, km.labels)

    info = {
        "backend": be,
        "device": str(x.device),
        "distance": "euclidean",
        "normalized": bool(normalize),
        "n": int(n),
        "dim": int(dim),
        "num_classes": num_classes,
        "input_dtype": input_dtype,
        "compute_dtype": "float32 (kNN candidates re-ranked in float64)",
        "tie_break": "equal distances: lower index first; the query excluded by index",
        "zero_vectors": zero_rows,
        "knn_exhaustive_queries": exhaustive,
        "kmeans_implementation": "sklearn.cluster.KMeans (lloyd)",
        "kmeans_init": "k-means++",
        "kmeans_points": "all",
        "kmeans_seed": int(kmeans_seed),
        "kmeans_n_init": int(kmeans_n_init),
        "kmeans_max_iter": KMEANS_MAX_ITER,
        "kmeans_tol": KMEANS_TOL,
        "versions": _versions(be),
    }
    if km is not None:
        info["kmeans_n_iter"] = km.n_iter
        info["kmeans_warnings"] = km.warnings
    if undefined:
        info["undefined"] = undefined
    return MetricResult(values=values, info=info)
