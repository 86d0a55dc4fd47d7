"""Metrics recomputed from per-query records, on any (re)sample of the test queries.

A run's **records** are a dict of numpy arrays, one entry per test query, in the same query order
for every run of a suite (N = number of test queries, K = number of recall cut-offs):

========== ============ ===========================================================
key        dtype, shape meaning
========== ============ ===========================================================
``label``     int64 [N]   the query's class label
``ks``        int64 [K]   the k of each column of ``hit`` (e.g. ``[1, 2, 4, 8]``)
``hit``       bool [N, K] the query's k nearest other test images contain its label
``ap_r``      float64 [N] the query's AP@R (MAP@R is their mean)
``nn_label``  int64 [N]   the label of the query's nearest other test image
``cluster``   int64 [N]   the query's k-means cluster id
========== ============ ===========================================================

From them every metric of modbench can be recomputed on a subset or a resample of the queries
(``idx``, an index array that may repeat queries), which is what the paired analysis of
``modbench.results.verdict`` needs:

- ``recall@k``, ``map@r`` and ``p@1`` are means over queries of a per-query value
  (``per_query_values``): mean-decomposable;
- ``macro_f1`` (of the 1-NN labels), ``nmi`` and ``f1`` (pairs, of the k-means partition) are not:
  they are computed from the (weighted) contingency table of the resampled queries.

What a resample holds fixed: the neighbour lists and the k-means partition were computed once on the
full test set, so a resample of queries varies which queries are asked, not the gallery they are
searched in nor the clustering.

Written with numpy rather than by calling ``modbench.metrics`` (scikit-learn's NMI, pair confusion
matrix and F1): the bootstrap of ``verdict`` evaluates a metric thousands of times, which the
vectorised contingency tables below do in one matrix product, and ``report`` must stay free of
scikit-learn (tests/test_startup.py). tests/results/test_query_metrics.py checks every metric
against ``modbench.metrics`` on real embeddings, so the two cannot drift.
"""

from __future__ import annotations

import numpy as np

from modbench.errors import UserError
from modbench.metrics.names import MetricError, recall_k

RECORD_FIELDS: dict[str, tuple[str, int]] = {
    # key: (numpy dtype kind, number of dimensions)
    "label": ("i", 1),
    "ks": ("i", 1),
    "hit": ("b", 2),
    "ap_r": ("f", 1),
    "nn_label": ("i", 1),
    "cluster": ("i", 1),
}
MEAN_METRICS_FIXED = ("map@r", "p@1")  # besides recall@k
CONTINGENCY_METRICS = ("macro_f1", "nmi", "f1")


class RecordsError(UserError):
    """Per-query records that are malformed or that do not belong to the same test queries."""


def check_records(records: dict) -> int:
    """N, after checking that ``records`` has every field with its dtype kind and shape."""
    missing = [k for k in RECORD_FIELDS if k not in records]
    if missing:
        raise RecordsError(f"per-query records lack {', '.join(missing)}")
    n = None
    for key, (kind, ndim) in RECORD_FIELDS.items():
        a = np.asarray(records[key])
        ok_kind = a.dtype.kind == kind or (kind == "f" and a.dtype.kind in "iu") or (kind == "i" and a.dtype.kind == "u")
        if a.ndim != ndim or not ok_kind:
            raise RecordsError(f"per-query records: '{key}' must be a {ndim}-D array of kind '{kind}', got {a.dtype} {a.shape}")
        if key != "ks":
            if n is None:
                n = a.shape[0]
            elif a.shape[0] != n:
                raise RecordsError(f"per-query records: '{key}' has {a.shape[0]} queries, 'label' has {n}")
    if np.asarray(records["hit"]).shape[1] != np.asarray(records["ks"]).shape[0]:
        raise RecordsError("per-query records: 'hit' must have one column per entry of 'ks'")
    return int(n)


def check_same_queries(runs: list[dict]) -> int:
    """N, after checking that every run's records hold the same test queries (same labels in the
    same order): the paired analysis compares them query by query."""
    if not runs:
        raise RecordsError("no runs")
    n = check_records(runs[0])
    label = np.asarray(runs[0]["label"])
    for i, run in enumerate(runs[1:], start=1):
        if check_records(run) != n or not np.array_equal(np.asarray(run["label"]), label):
            raise RecordsError(
                f"per-query records of run {i} are for other test queries than run 0 "
                "(another test set, subset or order): they cannot be paired"
            )
    return n


def _recall_column(records: dict, metric: str) -> int:
    k = recall_k(metric)
    ks = [int(v) for v in np.asarray(records["ks"])]
    if k not in ks:
        raise MetricError(f"{metric}: the per-query records hold recall at k in {ks} only")
    return ks.index(k)


def is_mean_decomposable(metric: str) -> bool:
    """True for the metrics that are a mean over queries of a per-query value."""
    return recall_k(metric) is not None or metric in MEAN_METRICS_FIXED


def per_query_values(records: dict, metric: str) -> np.ndarray:
    """float64 [N]: the per-query value whose mean is ``metric`` (recall@k, map@r, p@1)."""
    if recall_k(metric) is not None:
        return np.asarray(records["hit"])[:, _recall_column(records, metric)].astype(np.float64)
    if metric == "map@r":
        return np.asarray(records["ap_r"], dtype=np.float64)
    if metric == "p@1":
        return (np.asarray(records["nn_label"]) == np.asarray(records["label"])).astype(np.float64)
    if metric in CONTINGENCY_METRICS:
        raise MetricError(f"{metric} is not a mean over queries; use metric_from_records")
    raise MetricError(f"unknown metric '{metric}'")


def _codes(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Joint cell index of (a, b) and the table's shape: a's values x b's values."""
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    ia, ib = ia.reshape(-1), ib.reshape(-1)
    nb = int(ib.max()) + 1 if ib.size else 1
    na = int(ia.max()) + 1 if ia.size else 1
    return ia * nb + ib, na, nb


def _tables(records: dict, metric: str, weights: np.ndarray) -> np.ndarray:
    """Weighted contingency tables [B, rows, cols] for weights [B, N]: label x cluster (nmi, f1)
    or label x predicted label (macro_f1, over the union of labels so the diagonal is the hits).
    One ``bincount`` over (resample, cell) codes, in chunks of resamples to bound the memory."""
    label = np.asarray(records["label"])
    if metric == "macro_f1":
        other = np.asarray(records["nn_label"])
        values, inverse = np.unique(np.concatenate([label, other]), return_inverse=True)
        inverse = inverse.reshape(-1)
        n, c = label.shape[0], values.size
        code, rows, cols = inverse[:n] * c + inverse[n:], c, c
    else:
        code, rows, cols = _codes(label, np.asarray(records["cluster"]))
    cells = rows * cols
    out = np.empty((weights.shape[0], cells))
    chunk = max(1, 2_000_000 // max(1, code.shape[0]))
    for start in range(0, weights.shape[0], chunk):
        w = weights[start : start + chunk]
        flat = (np.arange(w.shape[0])[:, None] * cells + code[None, :]).ravel()
        out[start : start + w.shape[0]] = np.bincount(flat, weights=w.ravel(), minlength=w.shape[0] * cells).reshape(-1, cells)
    return out.reshape(-1, rows, cols)


def _xlogx(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0)


def _nmi(t: np.ndarray) -> np.ndarray:
    """NMI with arithmetic averaging, as scikit-learn's ``normalized_mutual_info_score``."""
    n = t.sum(axis=(1, 2))
    a, b = t.sum(axis=2), t.sum(axis=1)
    # MI = sum n_ij/n log(n n_ij / (a_i b_j)); entropies from the marginals.
    h_a = np.log(n) - _xlogx(a).sum(axis=1) / n
    h_b = np.log(n) - _xlogx(b).sum(axis=1) / n
    mi = (_xlogx(t).sum(axis=(1, 2)) - _xlogx(a).sum(axis=1) - _xlogx(b).sum(axis=1)) / n + np.log(n)
    mi = np.maximum(mi, 0.0)
    norm = np.maximum((h_a + h_b) / 2, np.finfo(np.float64).eps)
    classes, clusters = (a > 0).sum(axis=1), (b > 0).sum(axis=1)
    # scikit-learn's limit cases: one class and one cluster is 1.0; no mutual information is 0.
    return np.where((classes == 1) & (clusters == 1), 1.0, np.where(mi == 0, 0.0, mi / norm))


def _pair_f1(t: np.ndarray) -> np.ndarray:
    """Pairwise F1 = 2 TP / (same-cluster pairs + same-label pairs), 0 when TP = 0."""
    pairs = lambda x: (x * (x - 1)).sum(axis=tuple(range(1, x.ndim))) / 2  # noqa: E731
    tp = pairs(t)
    same_label, same_cluster = pairs(t.sum(axis=2)), pairs(t.sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tp > 0, 2 * tp / (same_label + same_cluster), 0.0)


def _macro_f1(t: np.ndarray) -> np.ndarray:
    """Macro-F1 over the classes present (true count > 0): 2 tp / (true + predicted) per class."""
    tp = np.diagonal(t, axis1=1, axis2=2)
    true, pred = t.sum(axis=2), t.sum(axis=1)
    present = true > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(present, 2 * tp / (true + pred), 0.0)
    return f1.sum(axis=1) / present.sum(axis=1)


def _check_defined(metric: str, t: np.ndarray) -> None:
    """MetricError where ``metric`` is undefined on a weighting (its tables ``t``)."""
    total = t.sum(axis=(1, 2))
    if (total < 2).any():
        raise MetricError(f"{metric} is undefined: it needs at least 2 queries, got {total.min():g}")
    if metric == "nmi" and ((t.sum(axis=2) > 0).sum(axis=1) < 2).any():
        raise MetricError("nmi is undefined: all samples have one label, so the label entropy is 0")
    if metric == "f1" and ((t.sum(axis=2) * (t.sum(axis=2) - 1)).sum(axis=1) == 0).any():
        raise MetricError("f1 is undefined: no two samples share a label, so there are no same-label pairs")


def metric_from_weights(records: dict, metric: str, weights: np.ndarray) -> np.ndarray:
    """``metric`` on B weightings of the queries at once: ``weights`` [B, N] (how many times each
    query is drawn), result [B]. Weight w_q counts query q w_q times, exactly as repeating it in an
    index array."""
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if is_mean_decomposable(metric):
        return weights @ per_query_values(records, metric) / weights.sum(axis=1)
    if metric not in CONTINGENCY_METRICS:
        raise MetricError(f"unknown metric '{metric}'")
    t = _tables(records, metric, weights)
    _check_defined(metric, t)
    if metric == "nmi":
        return _nmi(t)
    if metric == "f1":
        return _pair_f1(t)
    return _macro_f1(t)


def metric_from_records(records: dict, metric: str, idx=None) -> float:
    """``metric`` on the queries ``idx`` (an index array, repeats allowed), or on all queries.

    ``metric``: ``recall@k`` (k among the records' ``ks``), ``map@r``, ``p@1``, ``macro_f1``
    (of the 1-NN labels), ``nmi`` or ``f1`` (pairs, of the k-means partition).
    """
    n = check_records(records)
    if idx is None:
        weights = np.ones((1, n))
    else:
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        weights = np.bincount(idx, minlength=n)[None, :].astype(np.float64)
    return float(metric_from_weights(records, metric, weights)[0])
