"""Exact kNN: against the naive sort, backends identical, ties by lower index, the exhaustive fallback."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import naive
from modbench.metrics import faiss_available, knn
import modbench.metrics.knn_search as knn_module

BACKENDS = ["torch"] + (["faiss"] if faiss_available() else [])
needs_faiss = pytest.mark.skipif(not faiss_available(), reason="faiss not installed")


def _grid(n, seed, side=4):
    """Integer points on a small 2-D grid: many exact distance ties and exact duplicates."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, side, size=(n, 2)).astype(np.float32)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("block_size", [1, 7, None])
def test_ties_and_duplicates_follow_the_lower_index_rule(backend, block_size):
    x = _grid(70, seed=1)
    expected = naive.all_neighbours(x)
    got = knn(x, 69, backend=backend, block_size=block_size)  # every other row: no candidate check
    assert got.indices.tolist() == expected
    got = knn(x, 10, backend=backend, block_size=block_size)
    assert got.indices.tolist() == [row[:10] for row in expected]
    # 120 points on 4 grid cells: ~30 copies of each point, often more than the k + 16 candidates, so
    # the candidate check cannot succeed and the exhaustive float64 search must keep the rule.
    x = _grid(120, seed=2, side=2)
    got = knn(x, 10, backend=backend, block_size=block_size)
    assert got.indices.tolist() == [row[:10] for row in naive.all_neighbours(x)]
    assert got.exhaustive_queries > 0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("d", [3, 7, 64])
def test_duplicates_of_a_random_vector_tie_exactly(backend, d):
    """Bit-identical rows at scattered (differently aligned) positions get bit-identical distances."""
    rng = np.random.default_rng(d)
    x = rng.normal(size=(300, d)).astype(np.float32)
    dup = [3, 10, 57, 58, 101, 150, 299]
    x[dup] = x[dup[0]]
    got = knn(x, 40, backend=backend, block_size=64)
    for i in range(300):
        row = got.indices[i].tolist()
        present = [j for j in dup if j in row and j != i]
        # the duplicates of one another appear together, in index order, at one distance
        assert present == sorted(present)
        dists = {got.distances[i][row.index(j)] for j in present}
        assert len(dists) <= 1
    assert got.indices[3].tolist()[:6] == [10, 57, 58, 101, 150, 299]
    assert np.all(got.distances[3][:6] == 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_all_rows_identical(backend):
    x = np.ones((30, 5), dtype=np.float32)
    got = knn(x, 4, backend=backend)
    expected = [[j for j in range(30) if j != i][:4] for i in range(30)]
    assert got.indices.tolist() == expected
    assert np.all(got.distances == 0)


@pytest.mark.parametrize("n,d", [(50, 2), (200, 16), (150, 512)])
def test_random_data_equals_naive(n, d):
    rng = np.random.default_rng(n * d)
    x = rng.normal(size=(n, d)).astype(np.float32)
    full = naive.all_neighbours(x)
    for k in (1, 5, 40):
        nb = [row[:k] for row in full]
        ref = np.sqrt([[((x[j].astype(np.float64) - x[i]) ** 2).sum() for j in row] for i, row in enumerate(nb)])
        for backend in BACKENDS:
            got = knn(x, k, backend=backend, block_size=32)
            assert got.indices.tolist() == nb
            assert got.distances.dtype == np.float64
            np.testing.assert_allclose(got.distances, ref, rtol=1e-12)  # summation order differs


@needs_faiss
@pytest.mark.parametrize("seed", range(3))
def test_torch_and_faiss_identical_on_clustered_data(seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, 32))
    x = (centres[rng.integers(0, 20, 3000)] + 0.3 * rng.normal(size=(3000, 32))).astype(np.float32)
    x[100:110] = x[0]  # some duplicates
    a = knn(x, 30, backend="torch")
    b = knn(x, 30, backend="faiss")
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.distances, b.distances)


def test_k_larger_than_n_minus_1_gives_all_other_rows():
    x = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    for backend in BACKENDS:
        got = knn(x, 100, backend=backend)
        assert got.indices.shape == (6, 5)
        assert got.indices.tolist() == naive.all_neighbours(x)


def test_two_rows():
    got = knn(np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32), 3)
    assert got.indices.tolist() == [[1], [0]]


def test_forced_fallback_gives_the_same_answer(monkeypatch):
    """With a huge error bound every query fails the check and is searched exhaustively."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(80, 6)).astype(np.float32)
    fast = knn(x, 9, backend="torch")
    assert fast.exhaustive_queries == 0
    monkeypatch.setattr(knn_module, "_U32", 1.0)
    slow = knn(x, 9, backend="torch", block_size=16)
    assert slow.exhaustive_queries == 80
    np.testing.assert_array_equal(fast.indices, slow.indices)
    np.testing.assert_array_equal(fast.distances, slow.distances)


def test_small_db_blocks_running_topk():
    """Database chunks smaller than k: the running top-k merges across many chunks."""
    rng = np.random.default_rng(4)
    x = torch.from_numpy(rng.normal(size=(90, 4)).astype(np.float32))
    blocks = list(knn_module.iter_knn(x, 12, backend="torch", block_size=10, db_block=5))
    assert [b.start for b in blocks] == list(range(0, 90, 10))  # in query order
    got = np.concatenate([b.indices for b in blocks])
    assert got.tolist() == [row[:12] for row in naive.all_neighbours(x.numpy())]


def test_float16_input_is_searched_in_float32():
    rng = np.random.default_rng(5)
    x16 = rng.normal(size=(40, 8)).astype(np.float16)
    got = knn(torch.from_numpy(x16), 5)
    assert got.indices.tolist() == [row[:5] for row in naive.all_neighbours(x16.astype(np.float32))]


def test_unknown_backend():
    from modbench.metrics import MetricError

    with pytest.raises(MetricError, match="unknown kNN backend 'annoy'"):
        knn(np.zeros((3, 2), dtype=np.float32), 1, backend="annoy")


@pytest.mark.parametrize("k", [3, 25])
def test_device_path_logic_on_cpu_tensors(k):
    """The path used on CUDA devices (torch ops throughout), run on CPU tensors: same neighbours."""
    x = _grid(120, seed=5, side=2)  # ~22 exact copies of each of 4 points, plus jittered ones
    x[:, 0] += np.random.default_rng(5).normal(size=120).astype(np.float32) * (np.arange(120) % 4 == 0)
    expected = [row[:k] for row in naive.all_neighbours(x)]
    blocks = list(knn_module.iter_knn(torch.from_numpy(x), k, block_size=32, db_block=50, engine="torch"))
    assert np.concatenate([b.indices for b in blocks]).tolist() == expected
    assert sum(b.exhaustive_queries for b in blocks) > 0  # duplicates: the fallback ran too


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_equals_cpu():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(5000, 64)).astype(np.float32)
    x[10:20] = x[0]
    a = knn(x, 20, backend="torch", device="cpu")
    b = knn(x, 20, backend="torch", device="cuda")
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.distances, b.distances)
