"""Per-query records (``compute_metrics(..., queries=True)``): each metric is the mean of its
records exactly, and each record matches the naive O(N^2) definition query by query."""

from __future__ import annotations

import io

import numpy as np
import pytest

from metrics import naive
from modbench.metrics import compute_metrics, kmeans, nmi, pairwise_f1
from modbench.metrics.query_records import FIELDS, problem, record_ks

ALL = ["nmi", "f1", "recall@1", "recall@2", "recall@3", "recall@4", "recall@8", "recall@16", "map@r", "p@1", "macro_f1"]


def _overlapping(n_per=(40, 30, 25, 25), dim=8, seed=0):
    """Four overlapping classes (so that hits, misses and partial AP@R all occur), shuffled."""
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.full(n, c) for c, n in enumerate(n_per)])
    rng.shuffle(labels)
    centres = rng.normal(size=(len(n_per), dim))
    x = centres[labels] + 1.2 * rng.normal(size=(len(labels), dim))
    return x.astype(np.float32), labels


@pytest.fixture(scope="module")
def measured():
    x, y = _overlapping()
    # A small query block: the records are assembled across several blocks of the search.
    result = compute_metrics(x, y, ALL, backend="torch", block_size=16, queries=True)
    return x, y, result


def test_records_have_the_contract_format(measured):
    _, y, result = measured
    q = result.queries
    assert list(q) == list(FIELDS) and problem(q) is None
    for name, (dtype, ndim) in FIELDS.items():
        assert q[name].dtype == dtype and q[name].ndim == ndim
    assert q["ks"].tolist() == [1, 2, 3, 4, 8, 16]  # the measured k and 1, 2, 4, 8
    assert q["hit"].shape == (len(y), 6)
    assert np.array_equal(q["label"], y)


def test_each_metric_is_the_mean_of_its_records(measured):
    _, y, result = measured
    q, v = result.queries, result.values
    for j, k in enumerate(q["ks"]):
        assert q["hit"][:, j].mean() == v[f"recall@{k}"]
    assert q["ap_r"].mean() == pytest.approx(v["map@r"], abs=1e-12)
    assert (q["nn_label"] == q["label"]).mean() == v["p@1"]
    assert nmi(q["label"], q["cluster"]) == v["nmi"]
    assert pairwise_f1(q["label"], q["cluster"]) == v["f1"]


def test_records_match_the_naive_definitions_query_by_query(measured):
    x, y, result = measured
    q = result.queries
    nbrs = naive.all_neighbours(naive.normalize(x))
    for i, row in enumerate(nbrs):
        for j, k in enumerate(q["ks"]):
            assert q["hit"][i, j] == any(y[n] == y[i] for n in row[:k]), (i, k)
        assert q["nn_label"][i] == y[row[0]]
        assert q["ap_r"][i] == pytest.approx(_naive_ap(y, i, row), abs=1e-12)
    assert np.mean([_naive_ap(y, i, row) for i, row in enumerate(nbrs)]) == pytest.approx(naive.map_at_r(y, nbrs))


def _naive_ap(y, i, row):
    r = int((y == y[i]).sum()) - 1
    correct, ap = 0, 0.0
    for pos, j in enumerate(row[:r], start=1):
        if y[j] == y[i]:
            correct += 1
            ap += correct / pos
    return ap / r


def test_cluster_is_the_k_means_partition_of_the_metrics():
    x, y = _overlapping(seed=1)
    result = compute_metrics(x, y, ["recall@1"], kmeans_seed=4, kmeans_n_init=3, queries=True)
    # Asked only for recall@1: the records still hold the k-means partition, AP@R and the 1-NN.
    assert set(result.values) == {"recall@1"} and problem(result.queries) is None
    assert not np.isnan(result.queries["ap_r"]).any()
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    assert np.array_equal(result.queries["cluster"], kmeans(unit, 4, seed=4, n_init=3).labels)


def test_records_round_trip_through_npz_without_pickle(measured):
    q = measured[2].queries
    buffer = io.BytesIO()
    np.savez(buffer, **q)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as loaded:
        back = {name: loaded[name] for name in loaded.files}
    assert problem(back) is None
    assert all(np.array_equal(back[n], q[n], equal_nan=n == "ap_r") for n in FIELDS)


def test_record_ks_stay_below_n():
    assert record_ks([1, 10], 100).tolist() == [1, 2, 4, 8, 10]
    assert record_ks([1], 5).tolist() == [1, 2, 4]  # 8 needs more than 8 other samples


def test_problem_names_what_is_wrong(measured):
    q = dict(measured[2].queries)
    assert "lacks the arrays cluster" in problem({k: v for k, v in q.items() if k != "cluster"})
    assert "'hit' must be bool" in problem({**q, "hit": q["hit"].astype(np.int64)})
    assert "rows" in problem({**q, "ap_r": q["ap_r"][:-1]})
    assert "unexpected arrays extra" in problem({**q, "extra": q["label"]})


def test_kmeans_uses_ten_initialisations_by_default():
    x, y = _overlapping(seed=2)
    info = compute_metrics(x, y, ["nmi", "f1"]).info
    assert info["kmeans_n_init"] == 10
    one = kmeans(x, 4, seed=0, n_init=1)
    ten = kmeans(x, 4, seed=0)
    assert ten.settings["n_init"] == 10 and ten.inertia <= one.inertia
