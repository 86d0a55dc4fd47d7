"""Each metric against the naive loop of tests/metrics/naive.py, on random data of several shapes."""

from __future__ import annotations

import numpy as np
import pytest

import naive
from modbench.metrics import (
    compute_metrics,
    kmeans,
    knn,
    macro_f1_1nn,
    map_at_r,
    nmi,
    pairwise_f1,
    precision_at_1,
    recall_at_k,
)

SHAPES = [(60, 2, 3), (90, 8, 5), (120, 64, 7), (80, 512, 4)]  # (N, D, classes)


def _data(n, d, c, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    labels[:c] = np.arange(c)
    labels[c : 2 * c] = np.arange(c)  # every class at least twice
    centres = rng.normal(size=(c, d))
    x = centres[labels] * 0.7 + rng.normal(size=(n, d))
    return x.astype(np.float32), labels


@pytest.mark.parametrize("n,d,c", SHAPES)
def test_compute_metrics_equals_naive(n, d, c):
    x, y = _data(n, d, c, seed=n + d)
    xn = naive.normalize(x)
    nb = naive.all_neighbours(xn)
    res = compute_metrics(x, y, backend="torch", block_size=17)
    v = res.values
    for k in (1, 2, 4, 8):
        assert v[f"recall@{k}"] == naive.recall_at_k(y, nb, k)
    assert v["p@1"] == naive.precision_at_1(y, nb)
    assert v["map@r"] == pytest.approx(naive.map_at_r(y, nb), abs=1e-12)
    assert v["macro_f1"] == pytest.approx(naive.macro_f1_1nn(y, nb), abs=1e-12)
    # Clustering metrics given the same clustering: modbench's k-means, same seed.
    clusters = kmeans(xn, c, seed=0).labels
    assert v["nmi"] == pytest.approx(naive.nmi(list(y), list(clusters)), abs=1e-9)
    assert v["f1"] == pytest.approx(naive.pairwise_f1(list(y), list(clusters)), abs=1e-9)


@pytest.mark.parametrize("n,d,c", SHAPES[:3])
def test_pure_functions_equal_naive(n, d, c):
    x, y = _data(n, d, c, seed=7 * n + d)
    xn = naive.normalize(x)
    nb = naive.all_neighbours(xn)
    res = knn(xn, n - 1, backend="torch", block_size=13)
    assert res.indices.tolist() == nb
    for k in (1, 3, 5, n + 10):
        assert recall_at_k(y, res.indices, k) == naive.recall_at_k(y, nb, k)
    assert precision_at_1(y, res.indices) == naive.precision_at_1(y, nb)
    assert map_at_r(y, res.indices) == pytest.approx(naive.map_at_r(y, nb), abs=1e-12)
    assert macro_f1_1nn(y, res.indices) == pytest.approx(naive.macro_f1_1nn(y, nb), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_clustering_metrics_equal_naive_on_random_partitions(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 200))
    y = rng.integers(0, int(rng.integers(1, 12)) + 1, n)
    if len(set(y)) < 2:
        y[0], y[1] = 0, 1
    clusters = rng.integers(0, int(rng.integers(1, 12)) + 1, n)
    assert nmi(y, clusters) == pytest.approx(naive.nmi(list(y), list(clusters)), abs=1e-9)
    if len(set(y)) < n:
        assert pairwise_f1(y, clusters) == pytest.approx(naive.pairwise_f1(list(y), list(clusters)), abs=1e-9)


@pytest.mark.parametrize("backend", ["torch", "faiss"])
@pytest.mark.parametrize("seed", range(3))
def test_metrics_with_many_ties_equal_naive(backend, seed):
    """Integer grid points (exact ties, duplicates) with random labels: compute_metrics leaves
    same-label near-ties unrefined, which must not change any metric."""
    pytest.importorskip("faiss") if backend == "faiss" else None
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, size=(150, 2)).astype(np.float32)
    y = rng.integers(0, 4, 150)
    nb = naive.all_neighbours(x)
    v = compute_metrics(x, y, ["recall@1", "recall@2", "recall@4", "recall@8", "map@r", "p@1", "macro_f1"],
                        normalize=False, backend=backend, block_size=32).values
    for k in (1, 2, 4, 8):
        assert v[f"recall@{k}"] == naive.recall_at_k(y, nb, k)
    assert v["p@1"] == naive.precision_at_1(y, nb)
    assert v["map@r"] == pytest.approx(naive.map_at_r(y, nb), abs=1e-12)
    assert v["macro_f1"] == pytest.approx(naive.macro_f1_1nn(y, nb), abs=1e-12)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(n=st.integers(4, 70), d=st.integers(1, 4), copies=st.integers(1, 4), classes=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_neighbour_metrics_equal_naive_with_duplicates(n, d, copies, classes, seed):
    """Random rows, some repeated (``copies``), random labels each seen at least twice:
    compute_metrics (which lets same-label near-ties go unordered) equals the naive loops."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(-(-n // copies), d)).astype(np.float32)
    x = np.repeat(base, copies, axis=0)[:n]
    y = np.arange(n) % min(classes, n // 2)  # every label at least twice
    rng.shuffle(y)
    nb = naive.all_neighbours(x)
    names = ["recall@1", "recall@2", f"recall@{n - 1}", "p@1", "map@r", "macro_f1"]
    v = compute_metrics(x, y, names, normalize=False, backend="torch", block_size=16).values
    for k in (1, 2, n - 1):
        assert v[f"recall@{k}"] == naive.recall_at_k(y, nb, k)
    assert v["p@1"] == naive.precision_at_1(y, nb)
    assert v["map@r"] == pytest.approx(naive.map_at_r(y, nb), abs=1e-12)
    assert v["macro_f1"] == pytest.approx(naive.macro_f1_1nn(y, nb), abs=1e-12)
