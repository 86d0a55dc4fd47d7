"""Naive O(N^2) versions of the metrics, written from the definitions of docs/metrics.md, loop by loop.

Slow on purpose and independent of modbench's code: a full distance matrix in float64, a Python
sort with the tie rule spelled out, pairs counted one by one.
"""

from __future__ import annotations

import math

import numpy as np


def normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32).astype(np.float64)
    norms = np.sqrt((x * x).sum(1, keepdims=True))
    return (x / np.where(norms == 0, 1, norms)).astype(np.float32)


def all_neighbours(x: np.ndarray) -> list[list[int]]:
    """For each row, all other indices, nearest first; equal distances: lower index first.

    The full N x N float64 matrix of squared differences, then a Python sort on (distance, index).
    """
    x = np.asarray(x).astype(np.float64)
    d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    n = len(x)
    return [[j for _, j in sorted((float(d[i, j]), j) for j in range(n) if j != i)] for i in range(n)]


def recall_at_k(labels, nbrs, k: int) -> float:
    hits = 0
    for i, row in enumerate(nbrs):
        if any(labels[j] == labels[i] for j in row[:k]):
            hits += 1
    return hits / len(nbrs)


def precision_at_1(labels, nbrs) -> float:
    return sum(labels[row[0]] == labels[i] for i, row in enumerate(nbrs)) / len(nbrs)


def map_at_r(labels, nbrs) -> float:
    total = 0.0
    for i, row in enumerate(nbrs):
        r = sum(1 for j in range(len(labels)) if j != i and labels[j] == labels[i])
        correct, ap = 0, 0.0
        for pos, j in enumerate(row[:r], start=1):
            if labels[j] == labels[i]:
                correct += 1
                ap += correct / pos
        total += ap / r
    return total / len(nbrs)


def macro_f1_1nn(labels, nbrs) -> float:
    pred = [labels[row[0]] for row in nbrs]
    scores = []
    for c in sorted(set(labels)):
        tp = sum(1 for t, p in zip(labels, pred) if t == c and p == c)
        fp = sum(1 for t, p in zip(labels, pred) if t != c and p == c)
        fn = sum(1 for t, p in zip(labels, pred) if t == c and p != c)
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores)


def pairwise_f1(labels, clusters) -> float:
    tp = same_cluster = same_label = 0
    n = len(labels)
    for i in range(n):
        for j in range(i + 1, n):
            sl = labels[i] == labels[j]
            sc = clusters[i] == clusters[j]
            same_label += sl
            same_cluster += sc
            tp += sl and sc
    if tp == 0:
        return 0.0
    p, r = tp / same_cluster, tp / same_label
    return 2 * p * r / (p + r)


def nmi(labels, clusters) -> float:
    """Mutual information over the arithmetic mean of the two entropies (natural log)."""
    n = len(labels)
    joint: dict = {}
    for a, b in zip(labels, clusters):
        joint[(a, b)] = joint.get((a, b), 0) + 1
    pa: dict = {}
    pb: dict = {}
    for (a, b), c in joint.items():
        pa[a] = pa.get(a, 0) + c
        pb[b] = pb.get(b, 0) + c
    mi = sum(c / n * math.log(c * n / (pa[a] * pb[b])) for (a, b), c in joint.items())
    ha = -sum(c / n * math.log(c / n) for c in pa.values())
    hb = -sum(c / n * math.log(c / n) for c in pb.values())
    return mi / ((ha + hb) / 2)


def neighbours_by_sort(x: np.ndarray, k: int) -> np.ndarray:
    """[N, k] neighbour indices from the full float64 matrix of squared differences and a stable
    numpy sort (equal distances keep the lower index): vectorised, for tie-heavy inputs of a few
    thousand rows that the Python sort of ``all_neighbours`` would take long on."""
    x = np.asarray(x).astype(np.float64)
    d = np.stack([((x - row) ** 2).sum(-1) for row in x])
    np.fill_diagonal(d, np.inf)
    return np.argsort(d, axis=1, kind="stable")[:, :k]
