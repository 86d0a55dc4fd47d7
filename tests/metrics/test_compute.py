"""compute_metrics: names, strictness, edge cases, planted partitions, backends, input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from modbench.errors import UserError
from modbench.metrics import (
    DEFAULT_METRICS,
    MetricError,
    check_metric_names,
    compute_metrics,
    faiss_available,
    kmeans,
    nmi,
    pairwise_f1,
    parse_metric_names,
)

needs_faiss = pytest.mark.skipif(not faiss_available(), reason="faiss not installed")


def _planted(n_per=30, classes=5, dim=16, seed=0, spread=0.01):
    """Well-separated clusters: far-apart unit centres, tiny noise, labels = clusters."""
    rng = np.random.default_rng(seed)
    centres = np.linalg.qr(rng.normal(size=(dim, dim)))[0][:classes]  # orthonormal centres
    labels = np.repeat(np.arange(classes), n_per)
    rng.shuffle(labels)
    x = centres[labels] + spread * rng.normal(size=(len(labels), dim))
    return x.astype(np.float32), labels


# --- names ---------------------------------------------------------------------------------


def test_parse_metric_names():
    assert parse_metric_names("nmi,f1,recall@3") == ["nmi", "f1", "recall@3"]
    assert parse_metric_names(" NMI , recall@08,nmi,") == ["nmi", "recall@8"]
    assert parse_metric_names(["map@r", "p@1"]) == ["map@r", "p@1"]
    assert parse_metric_names(DEFAULT_METRICS) == list(DEFAULT_METRICS)


@pytest.mark.parametrize("bad", ["nmi,accuracy", "recall@0", "recall@", "recall@-1", "", "map@10"])
def test_parse_metric_names_rejects(bad):
    with pytest.raises(MetricError) as e:
        parse_metric_names(bad)
    assert isinstance(e.value, UserError)
    assert "choices: nmi, f1, macro_f1, map@r, p@1, recall@K" in str(e.value)
    assert "\n" not in str(e.value)


# --- planted partitions, exact values ------------------------------------------------------


@pytest.mark.parametrize("dim", [2, 512])
def test_planted_partition_gives_perfect_scores(dim):
    x, y = _planted(classes=2 if dim == 2 else 8, dim=dim)
    res = compute_metrics(x, y)
    assert res.values == {m: 1.0 for m in DEFAULT_METRICS}
    assert list(res.values) == list(DEFAULT_METRICS)


def test_kmeans_recovers_planted_partition():
    x, y = _planted(n_per=50, classes=10, dim=32, seed=3)
    clusters = kmeans(x, 10, seed=0).labels
    assert nmi(y, clusters) == 1.0
    assert pairwise_f1(y, clusters) == 1.0


def test_known_values_by_hand():
    # Two classes on a line; neighbours worked out by hand (unnormalised).
    x = np.array([[0.0], [1.0], [3.0], [5.5]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    # nearest others: 0->1 (miss), 1->0 (miss), 2->1 (hit, 2 < 2.5), 3->2 (miss)
    res = compute_metrics(x, y, ["recall@1", "p@1", "recall@2", "map@r", "macro_f1"], normalize=False)
    assert res.values["recall@1"] == 0.25
    assert res.values["p@1"] == 0.25
    # two nearest: 0->[1,2] miss, 1->[0,2] hit, 2->[1,3] hit, 3->[2,1] miss
    assert res.values["recall@2"] == 0.5
    # R = 1 for every query: AP@R = [first neighbour matches]
    assert res.values["map@r"] == 0.25
    # 1-NN predictions: [1, 0, 1, 1]; class 0: tp 0 -> F1 0; class 1: tp 1, fp 2, fn 1 -> 2/5
    assert res.values["macro_f1"] == pytest.approx(0.2)


# --- ties, duplicates ----------------------------------------------------------------------


def test_duplicate_tie_is_broken_by_lower_index():
    # Query 0 has two duplicates at distance 0: index 1 (other label) and index 2 (same label).
    # Lower index first: its nearest neighbour is 1, a miss; recall@2 is a hit.
    x = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], dtype=np.float32)
    y = np.array([0, 1, 0, 1, 1])
    res = compute_metrics(x, y, ["p@1", "recall@2"])
    # 0 -> 1 miss; 1 -> 0 miss; 2 -> 0 hit; 3 -> 4 hit; 4 -> 3 hit
    assert res.values["p@1"] == 3 / 5
    # two nearest: 0 -> [1, 2] hit; 1 -> [0, 2] miss; 2 -> [0, 1] hit; 3 -> [4, 0] hit; 4 -> [3, 0] hit
    assert res.values["recall@2"] == 4 / 5


def test_duplicates_by_index_not_by_distance():
    x = np.zeros((4, 3), dtype=np.float32)
    x[:, 0] = 1.0
    y = np.array([5, 5, 7, 7])
    # all four identical: 0 -> 1 (hit), 1 -> 0 (hit), 2 -> 0 (miss), 3 -> 0 (miss)
    assert compute_metrics(x, y, ["p@1"]).values["p@1"] == 0.5


# --- edge cases ----------------------------------------------------------------------------


def test_k_up_to_other_samples():
    x, y = _planted(n_per=3, classes=2, dim=4)
    res = compute_metrics(x, y, ["recall@1", "recall@5"])
    assert res.values["recall@5"] == 1.0  # all other 5 samples are neighbours


@pytest.mark.parametrize("k", [6, 7, 100, 10**12])
def test_recall_k_at_least_n_is_refused(k):
    """Recall@k for k >= N is refused (it would silently mean "all other samples")."""
    x, y = _planted(n_per=3, classes=2, dim=4)
    with pytest.raises(MetricError, match=rf"^metric 'recall@{k}' needs k < N, but the test set has N = 6 samples") as e:
        compute_metrics(x, y, ["recall@1", f"recall@{k}"])
    assert e.value.exit_code == 2
    # strict=False (what a run after training uses): NaN and the reason, never "all samples"
    res = compute_metrics(x, y, ["recall@1", f"recall@{k}"], strict=False)
    assert res.values["recall@1"] == 1.0 and math.isnan(res.values[f"recall@{k}"])
    assert res.info["undefined"][f"recall@{k}"].startswith(f"metric 'recall@{k}' needs k < N")
    with pytest.raises(MetricError, match="choose recall@K with K <= 5"):
        check_metric_names(f"nmi,recall@{k}", 6)
    assert check_metric_names("nmi,recall@5", 6) == ["nmi", "recall@5"]


def test_one_class_only():
    x = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    y = np.full(20, 4)
    with pytest.raises(MetricError, match=r"^nmi is undefined: all samples have one label"):
        compute_metrics(x, y)
    res = compute_metrics(x, y, strict=False)
    assert math.isnan(res.values["nmi"])
    assert "nmi" in res.info["undefined"]
    others = {m: v for m, v in res.values.items() if m != "nmi"}
    assert others == {m: 1.0 for m in others}


def test_lone_label_strict_and_not():
    x, y = _planted(n_per=4, classes=3, dim=8)
    y = y.copy()
    y[0] = 9  # label 9 has a single sample
    with pytest.raises(MetricError, match=r"^recall@1 is undefined: label 9 has a single sample"):
        compute_metrics(x, y)
    with pytest.raises(MetricError, match=r"^map@r is undefined: label 9 has a single sample"):
        compute_metrics(x, y, "map@r")
    res = compute_metrics(x, y, strict=False)
    for m in ("recall@1", "recall@8", "p@1", "map@r", "macro_f1"):
        assert math.isnan(res.values[m]), m
        assert res.info["undefined"][m].startswith(f"{m} is undefined: label 9")
    assert not math.isnan(res.values["nmi"]) and not math.isnan(res.values["f1"])  # defined


def test_every_label_single():
    x = np.eye(4, dtype=np.float32)
    with pytest.raises(MetricError, match="f1 is undefined: no two samples share a label"):
        compute_metrics(x, np.arange(4), ["f1"])
    assert compute_metrics(x, np.arange(4), ["nmi"]).values["nmi"] == pytest.approx(1.0)


@pytest.mark.parametrize("n", [0, 1])
def test_fewer_than_two_samples(n):
    with pytest.raises(MetricError, match="needs at least 2 samples"):
        compute_metrics(np.ones((n, 3), dtype=np.float32), np.zeros(n, dtype=int))
    res = compute_metrics(np.ones((n, 3), dtype=np.float32), np.zeros(n, dtype=int), strict=False)
    assert all(math.isnan(v) for v in res.values.values())


def test_float16_equals_float32_of_the_same_values():
    x, y = _planted(n_per=20, classes=4, dim=32, spread=0.5, seed=2)
    x16 = x.astype(np.float16)
    a = compute_metrics(torch.from_numpy(x16), torch.from_numpy(y))
    b = compute_metrics(x16.astype(np.float32), y)
    assert a.values == b.values
    assert a.info["input_dtype"] == "float16"


def test_bfloat16_and_integer_input():
    x, y = _planted(n_per=20, classes=4, dim=32, spread=0.5, seed=2)
    xb = torch.from_numpy(x).bfloat16()
    assert compute_metrics(xb, y).values == compute_metrics(xb.float().numpy(), y).values
    xi = np.round(x * 100).astype(np.int32)
    assert compute_metrics(xi, y).values == compute_metrics(xi.astype(np.float32), y).values


def test_float64_input():
    x, y = _planted(n_per=20, classes=4, dim=32, spread=0.5, seed=2)
    assert compute_metrics(x.astype(np.float64), y).values == compute_metrics(x, y).values


def test_normalize_false_uses_raw_distances():
    # Same directions, very different norms: normalising makes both classes collapse together.
    y = np.array([0, 0, 1, 1])
    x = np.array([[1.0, 0.0], [1.1, 0.0], [10.0, 0.0], [11.0, 0.0]], dtype=np.float32)
    assert compute_metrics(x, y, ["p@1"], normalize=False).values["p@1"] == 1.0
    # normalised, all four points coincide: lower index wins -> 0->1 hit, 1->0 hit, 2->0, 3->0 miss
    assert compute_metrics(x, y, ["p@1"]).values["p@1"] == 0.5


def test_zero_vector_stays_zero_and_is_counted():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 2.0]], dtype=np.float32)
    res = compute_metrics(x, [0, 0, 1, 1], ["p@1"])
    assert res.info["zero_vectors"] == 1


# --- backends, info ------------------------------------------------------------------------


@needs_faiss
def test_auto_uses_faiss_and_matches_torch():
    rng = np.random.default_rng(11)
    y = rng.integers(0, 6, 600)
    x = (rng.normal(size=(6, 24))[y] + rng.normal(size=(600, 24))).astype(np.float32)
    x[50:60] = x[0]
    a = compute_metrics(x, y)
    b = compute_metrics(x, y, backend="torch")
    assert a.info["backend"] == "faiss" and b.info["backend"] == "torch"
    assert "faiss-cpu" in a.info["versions"]
    assert a.values == b.values


def test_info_records_what_could_change_a_number():
    x, y = _planted()
    info = compute_metrics(x, y, kmeans_seed=3, kmeans_n_init=2, backend="torch").info
    for key, want in {
        "backend": "torch",
        "distance": "euclidean",
        "normalized": True,
        "n": 150,
        "dim": 16,
        "num_classes": 5,
        "kmeans_seed": 3,
        "kmeans_n_init": 2,
        "kmeans_init": "k-means++",
        "kmeans_points": "all",
    }.items():
        assert info[key] == want, key
    assert {"torch", "numpy", "scikit-learn", "modbench"} <= set(info["versions"])
    assert "sklearn.cluster.KMeans" in info["kmeans_implementation"]


def test_kmeans_seed_is_deterministic():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 8)).astype(np.float32)
    y = rng.integers(0, 6, 300)
    assert compute_metrics(x, y, ["nmi", "f1"]).values == compute_metrics(x, y, ["nmi", "f1"]).values


# --- input checks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "x,y,msg",
    [
        (np.ones(5, dtype=np.float32), np.zeros(5, dtype=int), "must be a 2-D array"),
        (np.ones((5, 2), dtype=np.float32), np.zeros(4, dtype=int), "differ in length: 5 rows vs 4 labels"),
        (np.full((3, 2), np.nan, dtype=np.float32), np.zeros(3, dtype=int), "NaN or infinite"),
        (np.ones((3, 2), dtype=np.float32), np.array([0.5, 1.0, 1.0]), "labels must be integers"),
        (np.ones((3, 2), dtype=np.float32), np.array(["a", "b", "a"]), "labels must be integers"),
        (np.ones((3, 2), dtype=np.float32), np.zeros((3, 1), dtype=int), "labels must be one integer per sample"),
        (np.array([["a", "b"]] * 3), np.zeros(3, dtype=int), "embeddings must be an array of floats"),
    ],
)
def test_bad_input(x, y, msg):
    with pytest.raises(MetricError, match=msg):
        compute_metrics(x, y)


def test_integer_valued_float_labels_are_accepted():
    x, y = _planted(n_per=5, classes=2, dim=4)
    assert compute_metrics(x, y.astype(np.float64), ["p@1"]).values == compute_metrics(x, y, ["p@1"]).values
