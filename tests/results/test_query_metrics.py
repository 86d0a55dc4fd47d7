"""Metrics recomputed from per-query records against modbench's own metric functions, on real
embeddings (scikit-learn's handwritten digits, 8x8 pixels as 64-D vectors), and on resamples
against scikit-learn on the resampled label vectors."""

from __future__ import annotations

import numpy as np
import pytest

from modbench.metrics.names import MetricError
from modbench.results.query_metrics import (
    RecordsError,
    check_same_queries,
    metric_from_records,
    per_query_values,
)

KS = (1, 2, 4, 8)
METRICS = ("nmi", "f1", "recall@1", "recall@2", "recall@4", "recall@8", "macro_f1", "map@r", "p@1")


def records_from_embeddings(x: np.ndarray, y: np.ndarray, kmeans_seed: int = 0) -> dict:
    """Per-query records of one set of embeddings, built from modbench's kNN search and k-means
    (L2-normalised rows, as compute_metrics), with the per-query values written from their
    definitions."""
    from modbench.metrics.kmeans_clustering import kmeans
    from modbench.metrics.knn_search import knn

    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    r = np.bincount(y)[y] - 1
    nb = knn(x.astype(np.float32), int(r.max())).indices
    match = y[nb] == y[:, None]
    hit = np.stack([match[:, :k].any(axis=1) for k in KS], axis=1)
    ap = np.array([sum(match[i, :j + 1].sum() / (j + 1) for j in range(r[i]) if match[i, j]) / r[i] for i in range(len(y))])
    clusters = kmeans(x.astype(np.float32), int(np.unique(y).size), seed=kmeans_seed).labels
    return {"label": y.astype(np.int64), "ks": np.array(KS, dtype=np.int64), "hit": hit, "ap_r": ap,
            "nn_label": y[nb[:, 0]].astype(np.int64), "cluster": clusters.astype(np.int64)}


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    x, y = data.data[:600].astype(np.float64) + 1e-3, data.target[:600].astype(np.int64)
    return x, y, records_from_embeddings(x, y)


def test_metric_from_records_equals_compute_metrics(digits):
    from modbench.metrics.compute import compute_metrics

    x, y, rec = digits
    expected = compute_metrics(x.astype(np.float32), y, METRICS, backend="torch", kmeans_seed=0).values
    for m in METRICS:
        assert metric_from_records(rec, m) == pytest.approx(expected[m], abs=1e-12), m


def test_resampled_metrics_equal_sklearn_on_the_resampled_vectors(digits):
    from sklearn.metrics import f1_score, normalized_mutual_info_score
    from sklearn.metrics.cluster import pair_confusion_matrix

    _, y, rec = digits
    rng = np.random.default_rng(3)
    for _ in range(5):
        idx = rng.integers(0, len(y), size=len(y))
        lab, clu, pred = y[idx], rec["cluster"][idx], rec["nn_label"][idx]
        (_, fp), (fn, tp) = pair_confusion_matrix(lab, clu).tolist()
        assert metric_from_records(rec, "nmi", idx) == pytest.approx(normalized_mutual_info_score(lab, clu), abs=1e-12)
        assert metric_from_records(rec, "f1", idx) == pytest.approx(2 * tp / (2 * tp + fp + fn), abs=1e-12)
        assert metric_from_records(rec, "macro_f1", idx) == pytest.approx(
            f1_score(lab, pred, labels=np.unique(lab), average="macro", zero_division=0), abs=1e-12)
        for m in ("recall@1", "recall@4", "map@r", "p@1"):
            assert metric_from_records(rec, m, idx) == pytest.approx(per_query_values(rec, m)[idx].mean(), abs=1e-12)


def test_per_query_values_only_for_means_and_known_ks(digits):
    _, _, rec = digits
    with pytest.raises(MetricError, match="not a mean over queries"):
        per_query_values(rec, "nmi")
    with pytest.raises(MetricError, match="recall at k in"):
        per_query_values(rec, "recall@3")


def test_nmi_undefined_on_one_label(digits):
    _, y, rec = digits
    one = np.flatnonzero(y == 3)
    with pytest.raises(MetricError, match="one label"):
        metric_from_records(rec, "nmi", one)


def test_runs_of_other_queries_cannot_be_paired(digits):
    _, _, rec = digits
    other = dict(rec, label=np.roll(rec["label"], 1))
    with pytest.raises(RecordsError, match="other test queries"):
        check_same_queries([rec, other])
    with pytest.raises(RecordsError, match="lack"):
        check_same_queries([{k: v for k, v in rec.items() if k != "ap_r"}])
