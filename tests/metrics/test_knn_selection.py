"""The CPU selection of the exact kNN (``knn_points``): the packed-key sort and numpy's stable
argsort give exactly what the definitions give (checked against ``numpy.lexsort`` and torch's
stable argsort), and the search's neighbours are those of a brute-force float64 ordering."""

from __future__ import annotations

import numpy as np
import torch

from modbench.metrics import knn
from modbench.metrics.knn_points import _smallest, _sort_rows_cpu, _stable_argsort


def test_packed_sort_orders_by_value_then_column():
    rng = np.random.default_rng(0)
    vals = (rng.standard_normal((40, 300)) * 10.0 ** rng.integers(-30, 30, (40, 300))).astype(np.float32)
    vals[:, ::7] = vals[:, :1]  # ties: equal values, to be ordered by column
    vals[0, :5] = [np.inf, -np.inf, 0.0, np.float32(1e-45), -np.float32(1e-45)]
    cols = np.stack([rng.permutation(10_000)[:300] for _ in range(40)]).astype(np.int64)
    got_v, got_c = _sort_rows_cpu(vals.copy(), cols.copy())
    for r in range(40):
        order = np.lexsort((cols[r], vals[r]))  # by value, then column
        assert np.array_equal(got_c[r], cols[r][order])
        assert np.array_equal(got_v[r].view(np.int32), vals[r][order].view(np.int32))  # bit for bit


def test_smallest_sorted_on_the_cpu_is_the_k_smallest_in_order():
    rng = np.random.default_rng(1)
    v = torch.from_numpy(rng.integers(0, 50, (30, 2_000)).astype(np.float32))  # many ties
    for k in (1, 17, 200, 1_999):
        vals, pos = _smallest(v, k, True)
        ref = np.sort(v.numpy(), axis=1)[:, :k]
        assert np.array_equal(vals.numpy(), ref)
        assert np.array_equal(torch.gather(v, 1, pos).numpy(), vals.numpy())
        assert all(len(set(row)) == k for row in pos.tolist())


def test_stable_argsort_is_torchs_stable_argsort():
    rng = np.random.default_rng(2)
    key = torch.from_numpy(rng.integers(0, 20, (25, 500)).astype(np.float64))
    assert torch.equal(_stable_argsort(key), torch.argsort(key, dim=1, stable=True))


def test_neighbours_equal_a_brute_force_float64_order_with_ties():
    rng = np.random.default_rng(3)
    x = rng.integers(-3, 4, (1_500, 4)).astype(np.float32)  # lattice points: exact ties everywhere
    x[:20] = rng.standard_normal((20, 4)).astype(np.float32)
    k = 900
    got = knn(x, k, backend="torch")
    xd = x.astype(np.float64)
    for i in range(0, 1_500, 97):
        d = ((xd - xd[i]) ** 2).sum(1)
        d[i] = np.inf
        order = np.lexsort((np.arange(len(x)), d))[:k]  # by distance, then lower index
        assert np.array_equal(got.indices[i], order)
