"""Exact kNN: against the naive sort, backends identical, ties by lower index, the exhaustive fallback."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import naive
from modbench.metrics import faiss_available, knn
import modbench.metrics.knn_points as knn_points
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
    # 120 points on 4 grid cells: ~30 copies of each point, more than k: the copies of the query
    # are its neighbours, in index order, and no search is needed at all (the old search fell
    # back to an exhaustive one for every such query).
    x = _grid(120, seed=2, side=2)
    got = knn(x, 10, backend=backend, block_size=block_size)
    assert got.indices.tolist() == [row[:10] for row in naive.all_neighbours(x)]
    assert got.exhaustive_queries == 0 and got.searched_queries == 0


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
    monkeypatch.setattr(knn_points, "_U32", 1.0)
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
def test_duplicates_fewer_than_k_and_jittered_rows(k):
    """~22 exact copies of each of 4 points, plus jittered rows: with k = 25 the copies are not
    enough, so the rows of the nearest other points are merged in by (distance, index)."""
    x = _grid(120, seed=5, side=2)
    x[:, 0] += np.random.default_rng(5).normal(size=120).astype(np.float32) * (np.arange(120) % 4 == 0)
    expected = [row[:k] for row in naive.all_neighbours(x)]
    blocks = list(knn_module.iter_knn(torch.from_numpy(x), k, block_size=32, db_block=50))
    assert np.concatenate([b.indices for b in blocks]).tolist() == expected


def _exact_distances(x, indices):
    """Euclidean distances of integer-valued rows: the float64 sums of squares are exact integers,
    so a correctly rounded square root (numpy's, IEEE 754) has one right answer."""
    sq = ((x[:, None].astype(np.float64) - x[None]) ** 2).sum(-1)
    return np.sqrt(np.take_along_axis(sq, indices, axis=1))


@pytest.mark.parametrize("duplicates", [False, True])
def test_distances_are_correctly_rounded_square_roots_on_every_path(duplicates):
    """Every row distinct (points are rows) or some duplicated (rows merged into points): the
    same distances, correctly rounded. Squared distances such as 51 and 78 are where a vectorised
    square root that is not correctly rounded (torch's on the CPU) is one ulp off."""
    x = np.array(list(itertools.product(range(8), repeat=3)), dtype=np.float32)
    x = x[np.random.default_rng(0).permutation(len(x))]
    if duplicates:
        x = np.concatenate([x, x[:5]])
    got = knn(x, len(x) - 1)
    assert (got.distances**2 >= 51).any()
    np.testing.assert_array_equal(got.indices, naive.neighbours_by_sort(x, len(x) - 1))
    np.testing.assert_array_equal(got.distances, _exact_distances(x, got.indices))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("k", [1, 8, 30])
def test_duplicates_and_ties_between_distinct_points(backend, k):
    """A 6 x 6 integer grid, ~8 copies of each point: equal distances between distinct points
    (4 at distance 1, 4 at sqrt 2, ...) at the edge of what is searched, so the rows of a
    whole tie level must be merged by index, beyond the points first searched."""
    x = _grid(300, seed=7, side=6)
    got = knn(x, k, backend=backend, block_size=50)
    assert got.indices.tolist() == [row[:k] for row in naive.all_neighbours(x)]
    np.testing.assert_array_equal(got.distances, _exact_distances(x, got.indices))


@pytest.mark.parametrize("k", [1, 8, 600])
def test_tie_heavy_input_needs_no_per_query_search(k):
    """Tie-heavy input (10^5 x 1 once took minutes, every query searched exhaustively). Here 2,000 rows
    with only 7 distinct values (the old search fell back for nearly every query): exact, and
    the work is bounded, counted in searches of distinct points, not in seconds."""
    rng = np.random.default_rng(11)
    x = rng.integers(-3, 4, size=(2000, 1)).astype(np.float32)
    got = knn(x, k)
    np.testing.assert_array_equal(got.indices, naive.neighbours_by_sort(x, k))
    assert got.exhaustive_queries == 0
    blocks = -(-2000 // 64)  # at most one search per distinct point per query block
    assert got.searched_queries <= 7 * blocks


def test_few_duplicates_among_distinct_rows():
    """A handful of duplicated rows among distinct ones: both kinds of rows in one block."""
    rng = np.random.default_rng(12)
    x = rng.normal(size=(400, 5)).astype(np.float32)
    x[[7, 200, 399]] = x[50]
    x[300] = -0.0 * x[300] + x[301] * 0  # a row of zeros...
    x[301] = 0.0  # ...and one of +0.0: the same point
    x[300] = -x[301]  # -0.0 everywhere
    got = knn(x, 12, block_size=64)
    np.testing.assert_array_equal(got.indices, naive.neighbours_by_sort(x, 12))
    assert got.exhaustive_queries == 0


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


@pytest.mark.parametrize("m,k", [(10, 3), (100, 3), (1000, 8), (1003, 40), (5000, 24), (50, 50)])
def test_two_stage_selection_on_both_kernels(m, k):
    """The k smallest per row, by the numpy kernel (CPU) and the torch one (other devices, run
    here on CPU tensors): the same multiset of values as a full sort, ties included."""
    rng = np.random.default_rng(m + k)
    v = rng.integers(0, 50, size=(7, m)).astype(np.float32)  # many ties
    want = np.sort(v, axis=1)[:, :k]
    cols = knn_points._smallest_cpu(v, k)
    np.testing.assert_array_equal(np.sort(np.take_along_axis(v, cols, axis=1), axis=1), want)
    assert all(len(set(row)) == k for row in cols.tolist())
    for sorted_ in (False, True):
        vals, pos = knn_points._smallest_torch(torch.from_numpy(v), k, sorted_)
        np.testing.assert_array_equal(np.sort(vals.numpy(), axis=1), want)
        np.testing.assert_array_equal(np.take_along_axis(v, pos.numpy(), axis=1), vals.numpy())
        assert all(len(set(row)) == k for row in pos.tolist())
        if sorted_:
            assert (np.diff(vals.numpy(), axis=1) >= 0).all()


@pytest.mark.parametrize("d", [1, 2, 3, 7, 64, 100])
def test_reference_distance_is_summed_in_one_fixed_order(d):
    """The reference distance has one rounding whatever the shape it is computed in (pairs, or a
    block of queries against a chunk of points): a pairwise tree over the D terms, written here
    as a Python loop from its definition."""
    rng = np.random.default_rng(d)
    a = rng.normal(size=(5, d)).astype(np.float32).astype(np.float64)
    b = rng.normal(size=(9, d)).astype(np.float32).astype(np.float64)

    def tree(terms):
        width = 1
        while width < len(terms):
            width *= 2
        terms = list(terms) + [0.0] * (width - len(terms))
        while len(terms) > 1:
            half = len(terms) // 2
            terms = [terms[i] + terms[i + half] for i in range(half)]
        return terms[0]

    want = np.array([[tree((a[i] - b[j]) ** 2) for j in range(9)] for i in range(5)])
    block = knn_points._reference(torch.from_numpy(a)[:, None], torch.from_numpy(b)[None])
    ii, jj = np.meshgrid(np.arange(5), np.arange(9), indexing="ij")
    pairs = knn_points._reference(torch.from_numpy(a[ii.ravel()]), torch.from_numpy(b[jj.ravel()])).view(5, 9)
    np.testing.assert_array_equal(block.numpy(), want)
    np.testing.assert_array_equal(pairs.numpy(), want)


def test_hash_collision_falls_back_to_comparing_rows(monkeypatch):
    """Rows are grouped by a hash and then compared: a (forced) collision must not merge them."""
    rng = np.random.default_rng(13)
    x = rng.normal(size=(60, 3)).astype(np.float32)
    x[[5, 40]] = x[20]
    real = np.random.default_rng

    class Zero:  # every hash multiplier 1 after "| 1" on 0: hash = sum of the bits, many collisions
        def integers(self, lo, hi, size, dtype):
            return np.zeros(size, dtype=dtype)

    monkeypatch.setattr(knn_module.np.random, "default_rng", lambda seed=None: Zero() if seed == 0 else real(seed))
    x[7] = x[8][[1, 0, 2]]  # same bits, other order: the same hash here, a different row
    got = knn(x, 10)
    np.testing.assert_array_equal(got.indices, naive.neighbours_by_sort(x, 10))
    pts = knn_module._Points.of(torch.from_numpy(x))
    assert pts.unique.shape[0] == 58 and pts.point[7] != pts.point[8]


from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(2, 60),
    d=st.integers(1, 3),
    side=st.integers(1, 8),
    k_frac=st.floats(0, 1),
    block=st.integers(1, 64),
    seed=st.integers(0, 2**16),
)
@example(n=60, d=3, side=8, k_frac=1.0, block=64, seed=11)  # distinct rows, squared distances up to 192
def test_exact_on_random_tie_heavy_grids(n, d, side, k_frac, block, seed):
    """Small integer grids: duplicates, points with fewer rows than k, equal distances between
    distinct points at the edge of what is searched, in every combination hypothesis finds."""
    x = np.random.default_rng(seed).integers(0, side + 1, size=(n, d)).astype(np.float32)
    k = 1 + int(k_frac * (n - 2))
    got = knn(x, k, block_size=block)
    np.testing.assert_array_equal(got.indices, naive.neighbours_by_sort(x, k))
    np.testing.assert_array_equal(got.distances, _exact_distances(x, got.indices))


class _FakeFaiss:
    """A stand-in for faiss's IndexFlatL2 (brute force in float32, |q|^2 + |x|^2 - 2 q.x, nearest
    first, ties in any order), so that the faiss backend's own steps (asking for k + 1, dropping
    the query by index) run where faiss is not installed."""

    class IndexFlatL2:
        def __init__(self, d):
            self.x = np.zeros((0, d), dtype=np.float32)

        def add(self, x):
            self.x = np.concatenate([self.x, x])

        def search(self, q, k):
            d = (q * q).sum(1)[:, None] + (self.x * self.x).sum(1)[None] - 2 * q @ self.x.T
            idx = np.argsort(d, axis=1, kind="quicksort")[:, :k]  # ties: in no promised order
            return np.take_along_axis(d, idx, axis=1).astype(np.float32), idx.astype(np.int64)


@pytest.mark.parametrize("x", [_grid(150, seed=8, side=3), np.random.default_rng(9).normal(size=(200, 6)).astype(np.float32)])
def test_faiss_backend_steps_with_a_stand_in(monkeypatch, x):
    import sys

    monkeypatch.setitem(sys.modules, "faiss", _FakeFaiss)
    for k in (1, 7, 40):
        blocks = list(knn_module.iter_knn(torch.from_numpy(x), k, backend="faiss", block_size=32))
        got = np.concatenate([b.indices for b in blocks])
        np.testing.assert_array_equal(got, naive.neighbours_by_sort(x, k))
