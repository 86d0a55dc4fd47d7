"""The metrics do not depend on the scale of the embeddings (the protocol: all metrics on
L2-normalised embeddings), from float32 x 1e19 and x 1e-20 to float64 x 1e300 and x 1e-320,
where squaring in the input's precision overflows or underflows."""

from __future__ import annotations

import numpy as np
import pytest

from modbench.metrics import DEFAULT_METRICS, compute_metrics


def _data(seed=6):
    """10 distinct directions, 8 exact copies of each with labels drawn from 4 classes: copies stay
    exact ties under any scaling, so the neighbour order can only change through the scaling
    itself; the directions are chosen far enough apart that the rounding of x 1e-320 (about 5e-4
    of each value, subnormal floats) cannot reorder them either (checked below)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(10, 6))
    base /= np.abs(base).max(axis=1, keepdims=True)
    x = np.repeat(base, 8, axis=0)
    y = rng.integers(0, 4, x.shape[0])
    y[:8] = [0, 1, 2, 3, 0, 1, 2, 3]  # every class at least twice
    u = base / np.linalg.norm(base, axis=1, keepdims=True)
    d = np.sort(np.linalg.norm(u[:, None] - u[None], axis=-1), axis=1)
    # distinct distances far apart at every query: more than 4e-3, where x 1e-320 moves a
    # normalised distance by at most about 2 * sqrt(6) * 2**-1075 / 1e-320 = 1.2e-3
    assert np.diff(d, axis=1).min() > 4e-3
    return x, y


SCALES = [
    (np.float32, 1e19),
    (np.float32, 1e-20),
    (np.float32, 1e30),
    (np.float32, 1e-30),
    (np.float64, 1e300),
    (np.float64, 1e-300),
    (np.float64, 1e-320),
    (np.float64, 1e150),
]


@pytest.mark.parametrize("dtype,scale", SCALES, ids=[f"{np.dtype(t).name}-x{s:g}" for t, s in SCALES])
def test_metrics_invariant_under_positive_scaling(dtype, scale):
    x, y = _data()
    ref = compute_metrics(x.astype(dtype), y).values
    scaled = (x * scale).astype(dtype)
    assert np.isfinite(scaled).all() and (np.abs(scaled).max(axis=1) > 0).all()
    got = compute_metrics(scaled, y)
    assert got.values == ref
    assert got.info["zero_vectors"] == 0
    # and not trivially: the numbers are those of the data, not of all-zero (all-tied) rows
    zeros = compute_metrics(np.zeros_like(x, dtype=dtype), y, list(DEFAULT_METRICS), strict=False).values
    assert ref != zeros


@pytest.mark.parametrize("scale", [1e-45, 3e38])
def test_extreme_float32_rows_are_normalised(scale):
    """The smallest float32 subnormal and values near float32's largest: every row keeps its
    direction (a row that is one non-zero entry normalises to a unit vector)."""
    x = np.zeros((4, 3), dtype=np.float32)
    x[0, 0] = x[1, 0] = x[2, 1] = x[3, 1] = np.float32(scale)
    y = np.array([0, 0, 1, 1])
    v = compute_metrics(x, y, ["p@1", "recall@1"]).values
    assert v == {"p@1": 1.0, "recall@1": 1.0}


def test_input_is_not_modified():
    x, y = _data()
    for arr in (x.astype(np.float64), x.astype(np.float32)):
        before = arr.copy()
        compute_metrics(arr * 3, y, ["p@1"])
        import torch

        t = torch.from_numpy(arr)
        compute_metrics(t, y, ["p@1"])
        np.testing.assert_array_equal(arr, before)
