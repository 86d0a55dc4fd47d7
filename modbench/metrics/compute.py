"""``compute_metrics``: every metric of docs/metrics.md on one set of embeddings, in one pass.

The kNN search runs once for all neighbour metrics (Recall@k, p@1, MAP@R, macro-F1) one query
block at a time, so no neighbour list of all N queries is held either; k-means runs once for NMI
and F1. With ``queries=True`` the same search and the same k-means also give the per-query
records of ``query_records.py`` (each metric is their mean). Pure: no printing, no files.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

from modbench.metrics import clustering_scores, gallery_search, query_records, retrieval
from modbench.metrics.inputs import checked_input, prepare
from modbench.metrics.kmeans_clustering import KMEANS_MAX_ITER, KMEANS_TOL, kmeans
from modbench.metrics.knn_search import iter_knn, resolve_backend
from modbench.metrics.names import (
    CLUSTERING_METRICS,
    DEFAULT_METRICS,
    MetricError,
    parse_metric_names,
    recall_k,
    too_few_samples,
)
from modbench.versions import package_versions


@dataclass
class MetricResult:
    """``values``: metric name -> value, in the order asked (NaN where undefined and not strict).

    ``info``: what could change a number (backend, k-means settings, distance, normalisation,
    sizes, package versions) and, under ``undefined``, why a metric is NaN.
    """

    values: dict[str, float]
    info: dict = field(default_factory=dict)
    # With ``queries=True``: the per-query records (query_records.FIELDS), else None.
    queries: dict[str, np.ndarray] | None = None


def _undefined_reason(name: str, y: np.ndarray) -> str | None:
    """Why ``name`` cannot be computed for these labels, or None. Depends on the labels only."""
    try:
        if name in CLUSTERING_METRICS:
            # nmi / f1 are undefined for a label vector exactly when they are undefined against
            # any partition of it; probing with the labels themselves costs O(N), no k-means.
            (clustering_scores.nmi if name == "nmi" else clustering_scores.pairwise_f1)(y, y)
        else:
            retrieval.require_pairs(name, y)
    except MetricError as e:
        return str(e)
    return None


def _gallery_reason(name: str, yq: np.ndarray, yg: np.ndarray) -> str | None:
    """Why ``name`` cannot be computed with queries ``yq`` searched among gallery ``yg``, or None."""
    if yq.shape[0] < 1 or yg.shape[0] < 1:
        return f"{name} is undefined: it needs queries and a gallery, got {yq.shape[0]} and {yg.shape[0]}"
    if name in CLUSTERING_METRICS:
        return None if yq.shape[0] >= 2 else f"{name} is undefined: it needs at least 2 queries"
    k = recall_k(name)
    if k is not None and k > yg.shape[0]:
        return (f"metric '{name}' needs k <= the gallery's size, but the gallery has {yg.shape[0]} samples; "
                f"choose recall@K with K <= {yg.shape[0]}")
    lonely = np.setdiff1d(np.unique(yq), np.unique(yg))
    if lonely.size:
        return f"{name} is undefined: label {lonely[0].item()} has queries but no gallery sample"
    return None


def _undefined(names: list[str], y: np.ndarray, strict: bool, query_mask: np.ndarray | None = None) -> dict[str, str]:
    """Metric name -> why it is undefined on these labels; raises the first with ``strict``."""
    n = y.shape[0]
    undefined: dict[str, str] = {}
    for name in names:
        if query_mask is not None:
            reason = _gallery_reason(name, y[query_mask], y[~query_mask])
            if reason is None and name in CLUSTERING_METRICS:
                reason = _undefined_reason(name, y[query_mask])
        elif n < 2:
            reason = f"{name} is undefined: it needs at least 2 samples, got {n}"
        else:
            reason = too_few_samples(name, n) or _undefined_reason(name, y)
        if reason is not None:
            if strict:
                raise MetricError(reason)
            undefined[name] = reason
    return undefined


def _neighbour_metrics(x: torch.Tensor, y: np.ndarray, wanted: list[str], backend: str, block_size: int | None,
                       record_ks: np.ndarray | None = None, query_mask: np.ndarray | None = None):
    """Recall@k, p@1, MAP@R and macro-F1 from one blocked kNN search: (values, exhaustive
    searches, per-query arrays or None). Only the labels of the neighbours are used, so the search
    may leave near-tied neighbours of one label unordered (see knn_search.iter_knn).

    ``record_ks``: also keep, per query, the hits at these k, AP@R and the nearest other
    sample's label (the ``hit``, ``ap_r`` and ``nn_label`` of query_records), taken from the
    very neighbour lists the metrics are counted on.

    ``query_mask`` [N] (True = query): the queries are searched among the other rows, the
    gallery, only (``gallery_search``); every value and record is then over the queries, R is
    the number of gallery samples of the query's label."""
    recall_ks = {m: recall_k(m) for m in wanted if recall_k(m) is not None}
    records = record_ks is not None
    if query_mask is None:
        yq = yd = y
        r = retrieval.r_per_query(y)
        cap = x.shape[0] - 1

        def search(k_rows):
            return iter_knn(x, k_rows, backend=backend, block_size=block_size, distances=False, labels=y)
    else:
        qi = torch.from_numpy(np.flatnonzero(query_mask)).to(x.device)
        gi = torch.from_numpy(np.flatnonzero(~query_mask)).to(x.device)
        yq, yd = y[query_mask], y[~query_mask]
        r = gallery_search.r_per_query(yq, yd)
        cap = yd.shape[0]

        def search(k_rows):
            return gallery_search.iter_gallery_knn(x[qi], x[gi], k_rows, block_size=block_size)
    n = yq.shape[0]
    k_rows = np.full(n, max([1, *recall_ks.values(), *(record_ks if records else ())]), dtype=np.int64)
    if "map@r" in wanted or records:
        k_rows = np.maximum(k_rows, r)
    hits = {m: 0 for m in recall_ks}
    p1_hits, ap_sum, exhaustive = 0, 0.0, 0
    predicted = np.empty(n, dtype=np.int64)
    if records:
        hit = np.zeros((n, len(record_ks)), dtype=bool)
        ap_r = np.full(n, np.nan, dtype=np.float64)
    for blk in search(np.minimum(k_rows, cap)):
        match = retrieval.match_rows(yd, yq[blk.start : blk.stop], blk.indices)
        for m, k in recall_ks.items():
            hits[m] += int(retrieval.hits_rows(match, k).sum())
        p1_hits += int(match[:, 0].sum())
        predicted[blk.start : blk.stop] = yd[blk.indices[:, 0]]
        if "map@r" in wanted or records:
            rows_r = r[blk.start : blk.stop]
            with np.errstate(invalid="ignore", divide="ignore"):
                ap = retrieval.average_precision_at_r_rows(match, rows_r)
            if "map@r" in wanted:
                ap_sum += float(ap.sum())
        if records:
            for j, k in enumerate(record_ks):
                hit[blk.start : blk.stop, j] = retrieval.hits_rows(match, int(k))
            ap_r[blk.start : blk.stop] = np.where(rows_r > 0, ap, np.nan)
        exhaustive += blk.exhaustive_queries
    per_query = {"hit": hit, "ap_r": ap_r, "nn_label": predicted.copy()} if records else None
    values = {m: hits[m] / n for m in recall_ks}
    if "p@1" in wanted:
        values["p@1"] = p1_hits / n
    if "map@r" in wanted:
        values["map@r"] = ap_sum / n
    if "macro_f1" in wanted:
        values["macro_f1"] = retrieval.macro_f1_from_predictions(yq, predicted)
    return values, exhaustive, per_query


def _clustering(x: torch.Tensor, y: np.ndarray, wanted: list[str], seed: int, n_init: int):
    """NMI and pairwise F1 of one k-means partition (k = number of distinct labels)."""
    km = kmeans(x.cpu().numpy(), int(np.unique(y).size), seed=seed, n_init=n_init)
    values = {}
    if "nmi" in wanted:
        values["nmi"] = clustering_scores.nmi(y, km.labels)
    if "f1" in wanted:
        values["f1"] = clustering_scores.pairwise_f1(y, km.labels)
    return values, km


def _versions() -> dict[str, str]:
    """Package versions, read the one way the project reads them (``modbench.versions``)."""
    return package_versions()


def _info(x: torch.Tensor, y: np.ndarray, *, backend, normalize, input_dtype, zero_rows, exhaustive, seed, n_init, km) -> dict:
    """What could change a number, recorded with it (docs/metrics.md)."""
    info = {
        "backend": backend,
        "device": str(x.device),
        "distance": "euclidean",
        "normalized": bool(normalize),
        "n": int(x.shape[0]),
        "dim": int(x.shape[1]),
        "num_classes": int(np.unique(y).size),
        "input_dtype": input_dtype,
        "compute_dtype": "float32 (kNN candidates re-ranked in float64)",
        "tie_break": "equal distances: lower index first; the query excluded by index",
        "zero_vectors": zero_rows,
        "knn_exhaustive_queries": exhaustive,
        "kmeans_implementation": "sklearn.cluster.KMeans (lloyd)",
        "kmeans_init": "k-means++",
        "kmeans_points": "all",
        "kmeans_seed": int(seed),
        "kmeans_n_init": int(n_init),
        "kmeans_max_iter": KMEANS_MAX_ITER,
        "kmeans_tol": KMEANS_TOL,
        "versions": _versions(),
    }
    if km is not None:
        info["kmeans_n_iter"] = km.n_iter
        info["kmeans_warnings"] = km.warnings
    return info


def compute_metrics(
    embeddings,
    labels,
    metrics: str | Iterable[str] = DEFAULT_METRICS,
    *,
    normalize: bool = True,
    device=None,
    backend: str = "auto",
    kmeans_seed: int = 0,
    kmeans_n_init: int = 10,
    block_size: int | None = None,
    strict: bool = True,
    queries: bool = False,
    query_mask=None,
) -> MetricResult:
    """The metrics named in ``metrics`` on ``embeddings`` [N, D] (float16/32/64) with ``labels`` [N].

    ``normalize``: L2-normalise each row first (the protocol measures every metric on
    L2-normalised embeddings; scale-robust, see inputs.prepare). ``device``: where the kNN runs (default: the
    tensor's device, else CPU). ``backend``: "auto" (faiss when installed and on CPU, else
    torch), "torch" or "faiss"; the neighbours are identical either way. ``strict``: a metric
    undefined on this input raises MetricError naming it and why; with ``strict=False`` it is NaN
    and the reason is in ``info["undefined"]``; so is ``recall@k`` with k >= N (see
    names.check_metric_names, which refuses it before training). The kNN is exact (see knn_search.py).
    ``kmeans_n_init``: k-means initialisations, the partition of lowest inertia kept (default 10).

    ``queries``: also return, in ``MetricResult.queries``, the per-query records of
    ``query_records.py`` (from the same kNN search and k-means; both run even when no metric
    asked for them, so the records are always complete). Needs at least 2 samples.

    ``query_mask`` (bool [N], True = query; a query/gallery test split such as In-Shop's): each
    query is searched among the gallery (the rows marked False) only, never among the other
    queries; Recall@k, p@1, MAP@R (R = gallery samples of the query's label) and macro-F1 are
    over the queries, and so are NMI and F1 (k-means on the query embeddings, k = the queries'
    distinct labels; as pytorch-metric-learning's AccuracyCalculator clusters its query set), so
    that every metric stays a function of the per-query records. ``recall@k`` needs k <= the
    gallery's size; a query label without gallery samples leaves the neighbour metrics undefined.
    """
    names = parse_metric_names(metrics)
    x, y = checked_input(embeddings, labels, device)
    mask = None
    if query_mask is not None:
        mask = np.asarray(query_mask.cpu() if isinstance(query_mask, torch.Tensor) else query_mask)
        if mask.dtype != bool or mask.shape != y.shape:
            raise MetricError(f"query_mask must be booleans [N] = [{y.shape[0]}], got {mask.dtype} {mask.shape}")
    input_dtype = str(x.dtype).replace("torch.", "")
    x, zero_rows = prepare(x, normalize)
    be = resolve_backend(backend, x.device)
    undefined = _undefined(names, y, strict, mask)
    wanted = [m for m in names if m not in undefined]
    values = dict.fromkeys(names, math.nan)
    exhaustive, km, per_query = 0, None, None
    yq = y if mask is None else y[mask]
    # A query has n - 1 others to find, or the whole gallery.
    n_others = y.shape[0] - 1 if mask is None else int((~mask).sum())
    if queries and (yq.shape[0] < 2 or n_others < 1):
        raise MetricError(f"per-query records need at least 2 queries with 1 other sample each, got {yq.shape[0]}")
    ks = query_records.record_ks([recall_k(m) for m in names if recall_k(m) is not None], n_others + 1) if queries else None
    if queries or any(m not in CLUSTERING_METRICS for m in wanted):
        found, exhaustive, per_query = _neighbour_metrics(x, y, wanted, be, block_size, record_ks=ks, query_mask=mask)
        values.update(found)
    if queries or any(m in CLUSTERING_METRICS for m in wanted):
        xq = x if mask is None else x[torch.from_numpy(np.flatnonzero(mask)).to(x.device)]
        found, km = _clustering(xq, yq, wanted, kmeans_seed, kmeans_n_init)
        values.update(found)
    info = _info(x, y, backend=be, normalize=normalize, input_dtype=input_dtype, zero_rows=zero_rows,
                 exhaustive=exhaustive, seed=kmeans_seed, n_init=kmeans_n_init, km=km)
    if mask is not None:
        info.update(retrieval="queries searched among the gallery only; NMI and F1 cluster the queries",
                    backend="torch (metrics.gallery_search: float64 distances, stable sort)",
                    n_queries=int(mask.sum()), n_gallery=int((~mask).sum()), num_classes=int(np.unique(yq).size),
                    kmeans_points="the queries")
    if undefined:
        info["undefined"] = undefined
    records = None
    if queries:
        records = {"label": yq.astype(np.int64), "ks": ks, **per_query,
                   "cluster": np.asarray(km.labels, dtype=np.int64)}
        records = {name: records[name] for name in query_records.FIELDS}
    return MetricResult(values=values, info=info, queries=records)
