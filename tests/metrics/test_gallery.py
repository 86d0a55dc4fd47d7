"""Query/gallery retrieval (``compute_metrics(..., query_mask=...)``, In-Shop's protocol): each
metric against a naive loop that searches every query among the gallery only."""

from __future__ import annotations

import numpy as np
import pytest

from metrics import naive
from modbench.metrics import compute_metrics, kmeans, nmi, pairwise_f1
from modbench.metrics.names import MetricError

ALL = ["nmi", "f1", "recall@1", "recall@2", "recall@4", "recall@8", "map@r", "p@1", "macro_f1"]


def _data(seed=0, n=90, classes=6, dim=6):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=n)
    x = rng.normal(size=(classes, dim))[labels] + 1.3 * rng.normal(size=(n, dim))
    mask = rng.random(n) < 0.4
    # Every query label has gallery samples; some gallery labels have no query (distractors).
    for c in range(classes):
        where = np.flatnonzero(labels == c)
        mask[where[0]] = False
    labels[mask & (labels == classes - 1)] = 0  # the last class: gallery only
    return x.astype(np.float32), labels, mask


def _gallery_neighbours(x, mask):
    """For each query (in order), every gallery index (into the gallery), nearest first; equal
    distances: lower gallery index first. A full float64 matrix and a Python sort."""
    x = naive.normalize(x).astype(np.float64)
    q, g = x[mask], x[~mask]
    out = []
    for row in q:
        d = ((g - row) ** 2).sum(-1)
        out.append([j for _, j in sorted((float(d[j]), j) for j in range(len(g)))])
    return out


def _naive(x, y, mask):
    yq, yg = y[mask], y[~mask]
    nbrs = _gallery_neighbours(x, mask)
    out = {}
    for k in (1, 2, 4, 8):
        out[f"recall@{k}"] = np.mean([any(yg[j] == yq[i] for j in row[:k]) for i, row in enumerate(nbrs)])
    out["p@1"] = np.mean([yg[row[0]] == yq[i] for i, row in enumerate(nbrs)])
    aps = []
    for i, row in enumerate(nbrs):
        r = int((yg == yq[i]).sum())
        correct, ap = 0, 0.0
        for pos, j in enumerate(row[:r], start=1):
            if yg[j] == yq[i]:
                correct += 1
                ap += correct / pos
        aps.append(ap / r)
    out["map@r"] = float(np.mean(aps))
    pred = [yg[row[0]] for row in nbrs]
    scores = []
    for c in sorted(set(yq.tolist())):
        tp = sum(1 for t, p in zip(yq, pred) if t == c and p == c)
        fp = sum(1 for t, p in zip(yq, pred) if t != c and p == c)
        fn = sum(1 for t, p in zip(yq, pred) if t == c and p != c)
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    out["macro_f1"] = float(np.mean(scores))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gallery_metrics_match_a_naive_loop(seed):
    x, y, mask = _data(seed)
    got = compute_metrics(x, y, ALL, query_mask=mask, block_size=7, queries=True)
    want = _naive(x, y, mask)
    for name, value in want.items():
        assert got.values[name] == pytest.approx(value, abs=1e-12), name
    # Not the closed-set numbers: a query's own class-mates among the queries are not candidates.
    closed = compute_metrics(x, y, ALL)
    assert any(abs(closed.values[m] - want[m]) > 1e-9 for m in want)
    # NMI and F1: k-means on the query embeddings (k = the queries' labels), as documented.
    yq = y[mask]
    km = kmeans(naive.normalize(x)[mask], len(np.unique(yq)), seed=0, n_init=10)
    assert got.values["nmi"] == pytest.approx(naive.nmi(list(yq), list(km.labels)), abs=1e-9)
    assert got.values["f1"] == pytest.approx(naive.pairwise_f1(list(yq), list(km.labels)), abs=1e-12)
    # The per-query records are the queries' and their means are the metrics.
    q = got.queries
    assert q["label"].tolist() == yq.tolist()
    assert q["hit"][:, list(q["ks"]).index(4)].mean() == pytest.approx(got.values["recall@4"])
    assert np.nanmean(q["ap_r"]) == pytest.approx(got.values["map@r"])
    assert nmi(q["label"], q["cluster"]) == pytest.approx(got.values["nmi"])
    assert pairwise_f1(q["label"], q["cluster"]) == pytest.approx(got.values["f1"])
    assert got.info["n_queries"] == int(mask.sum()) and got.info["n_gallery"] == int((~mask).sum())


def test_ties_go_to_the_lower_gallery_index():
    # Two gallery rows at the same distance from the query: the lower index (label 1) is first.
    x = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, -1.0], [0.0, 1.0], [0.0, -1.0]], dtype=np.float32)
    y = np.array([1, 1, 2, 2, 1])
    mask = np.array([True, False, False, False, False])
    got = compute_metrics(x, y, ["recall@1", "map@r"], query_mask=mask)
    assert got.values["recall@1"] == 1.0
    assert got.values["map@r"] == pytest.approx(_naive(x, y, mask)["map@r"])


def test_a_query_label_without_gallery_samples_is_undefined():
    x, y, mask = _data(0)
    y = y.copy()
    q = np.flatnonzero(mask)[0]
    y[q] = 99
    with pytest.raises(MetricError, match="label 99 has queries but no gallery sample"):
        compute_metrics(x, y, ["recall@1"], query_mask=mask)
    lax = compute_metrics(x, y, ["recall@1", "nmi"], query_mask=mask, strict=False)
    assert np.isnan(lax.values["recall@1"]) and not np.isnan(lax.values["nmi"])


def test_recall_at_k_beyond_the_gallery_is_refused():
    x, y, mask = _data(0, n=20, classes=2)
    g = int((~mask).sum())
    with pytest.raises(MetricError, match="gallery has"):
        compute_metrics(x, y, [f"recall@{g + 1}"], query_mask=mask)
    assert compute_metrics(x, y, [f"recall@{g}"], query_mask=mask).values[f"recall@{g}"] == 1.0
