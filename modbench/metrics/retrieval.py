"""Retrieval metrics from neighbour lists: Recall@k, precision at 1, MAP@R, macro-F1 of 1-NN.

Every function takes ``labels`` [N] and ``neighbour_indices`` [N, k]: row i lists the other
samples nearest to sample i, nearest first (the output of :func:`modbench.metrics.knn_search.knn`, the
query itself already excluded). docs/metrics.md has the definitions and the
conventions. The ``*_rows`` helpers work on one block of queries so that the caller never needs
all neighbour lists at once.
"""

from __future__ import annotations

import numpy as np

from modbench.metrics.names import MetricError

# Imports inside functions here: scikit-learn is imported when macro-F1 is computed.


def singleton_label(labels: np.ndarray):
    """The first label (smallest) that has a single sample, or None."""
    values, counts = np.unique(np.asarray(labels), return_counts=True)
    lone = values[counts == 1]
    return lone[0].item() if lone.size else None


def require_pairs(metric: str, labels: np.ndarray) -> None:
    """Raise MetricError when a neighbour metric is undefined: fewer than 2 samples, or a lone label."""
    labels = np.asarray(labels)
    if labels.shape[0] < 2:
        raise MetricError(f"{metric} is undefined: it needs at least 2 samples, got {labels.shape[0]}")
    lone = singleton_label(labels)
    if lone is not None:
        raise MetricError(
            f"{metric} is undefined: label {lone} has a single sample, so its query has no other sample of its label"
        )


def match_rows(labels: np.ndarray, query_labels: np.ndarray, neighbour_indices: np.ndarray) -> np.ndarray:
    """[b, k] booleans: is neighbour j of query i of the query's label."""
    return labels[neighbour_indices] == np.asarray(query_labels)[:, None]


def hits_rows(match: np.ndarray, k: int) -> np.ndarray:
    """[b] booleans: a sample of the query's label among its first k neighbours."""
    return match[:, :k].any(axis=1)


def average_precision_at_r_rows(match: np.ndarray, r: np.ndarray) -> np.ndarray:
    """[b] AP@R: ``(1/R) * sum_{i<=R} precision@i * [neighbour i matches]``; ``match`` has >= max R columns."""
    r = np.asarray(r, dtype=np.int64)
    if r.size == 0:
        return np.zeros(0)
    width = int(r.max())
    if match.shape[1] < width:
        raise ValueError(f"MAP@R needs {width} neighbours per query, got {match.shape[1]}")
    m = match[:, :width]
    pos = np.arange(1, width + 1)
    precision = np.cumsum(m, axis=1) / pos
    within = pos[None, :] <= r[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (precision * (m & within)).sum(axis=1) / r


def _check(labels, neighbour_indices) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    nb = np.asarray(neighbour_indices)
    if labels.ndim != 1 or nb.ndim != 2 or nb.shape[0] != labels.shape[0]:
        raise ValueError(f"labels must be [N] and neighbour_indices [N, k], got {labels.shape} and {nb.shape}")
    return labels, nb


def _need_columns(nb: np.ndarray, n: int, k: int, what: str) -> None:
    if nb.shape[1] < min(k, n - 1):
        raise ValueError(f"{what} needs {min(k, n - 1)} neighbours per query, got {nb.shape[1]}")


def recall_at_k(labels, neighbour_indices, k: int) -> float:
    """Fraction of queries with a sample of their label among their k nearest others.

    k larger than N - 1 means all other samples (the list cannot be longer).
    """
    labels, nb = _check(labels, neighbour_indices)
    if k < 1:
        raise ValueError("k must be >= 1")
    require_pairs(f"recall@{k}", labels)
    _need_columns(nb, labels.shape[0], k, f"recall@{k}")
    return float(hits_rows(match_rows(labels, labels, nb), k).mean())


def precision_at_1(labels, neighbour_indices) -> float:
    """Fraction of queries whose nearest other sample has their label (equals recall@1 here)."""
    labels, nb = _check(labels, neighbour_indices)
    require_pairs("p@1", labels)
    _need_columns(nb, labels.shape[0], 1, "p@1")
    return float(match_rows(labels, labels, nb[:, :1])[:, 0].mean())


def r_per_query(labels: np.ndarray) -> np.ndarray:
    """R of each query: the number of other samples with its label."""
    _, inverse, counts = np.unique(np.asarray(labels), return_inverse=True, return_counts=True)
    return counts[inverse.reshape(-1)] - 1


def map_at_r(labels, neighbour_indices) -> float:
    """MAP@R of Musgrave et al. 2020: mean over queries of AP@R, R = other samples of the query's label."""
    labels, nb = _check(labels, neighbour_indices)
    require_pairs("map@r", labels)
    r = r_per_query(labels)
    _need_columns(nb, labels.shape[0], int(r.max()), "map@r")
    return float(average_precision_at_r_rows(match_rows(labels, labels, nb), r).mean())


def macro_f1_from_predictions(labels, predicted) -> float:
    """Macro-averaged F1 over the classes present in ``labels``."""
    from sklearn.metrics import f1_score

    labels = np.asarray(labels)
    classes = np.unique(labels)
    return float(f1_score(labels, np.asarray(predicted), labels=classes, average="macro", zero_division=0))


def macro_f1_1nn(labels, neighbour_indices) -> float:
    """Macro-F1 over classes of the leave-one-out 1-NN predicted labels (the nearest other sample's label)."""
    labels, nb = _check(labels, neighbour_indices)
    require_pairs("macro_f1", labels)
    _need_columns(nb, labels.shape[0], 1, "macro_f1")
    return macro_f1_from_predictions(labels, labels[nb[:, 0]])
