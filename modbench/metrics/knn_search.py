"""Exact k-nearest-neighbour search among the rows of one embedding matrix: one implementation.

The neighbours of row ``i`` are the other rows (row ``i`` itself is excluded by its index, not by
its distance, so a duplicate of the query still counts as a neighbour), ordered by Euclidean
distance, equal distances broken by the lower index.

The *reference distance* that defines the order is ``|x_j - x_i|^2`` of the float32 embeddings,
computed in float64 as the sum of squared differences (``_reference``), used by every step, so
only truly equal distances tie (float32 rounding ties distinct distances, even among a hundred
points in 64-D).

Why by hand: faiss and scikit-learn give a fast top-k, but neither promises an exact order
(rounding of ``|x|^2 - 2 q.x``), nor the lower-index rule for ties, nor memory bounded at any N
with k = R of MAP@R; the steps below add exactly that, on any torch device.

0. *Duplicates*: bit-identical rows (after ``-0.0 -> +0.0``) are merged into one point, with the
   sorted list of its rows. The search runs among the distinct points; the neighbours of row ``i``
   are then the other rows of its own point (distance 0, index order) followed by the rows of the
   nearest other points (merged by (distance, index)). A point with more rows than the k asked
   needs no search at all: this is what keeps tie-heavy input (10^5 rows in 1-D, normalised to
   +1 and -1) linear instead of one exhaustive search per query.
1-3. *The search among the distinct points* (``knn_points``): a blocked float32 top-k, float64
   re-ranking of the candidates whose order float32 cannot settle, and an exhaustive float64
   search for a query whose candidates cannot be proved to hold its k nearest.

So the result is the exact top-k under the reference distance and the lower-index tie rule,
whatever the backend, the device, the block sizes or the thread count: the reference distance is
summed in a fixed order (``knn_points._reference``), so it has the same bits everywhere, and the
Euclidean distances returned are its correctly rounded square roots (numpy's ``sqrt``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from modbench.metrics.knn_points import DEFAULT_BLOCK_BYTES, DEFAULT_DB_BLOCK, PointSearch, candidate_pad
from modbench.metrics.names import MetricError


def faiss_available() -> bool:
    """True when ``import faiss`` would succeed (the ``modbench[faiss]`` extra)."""
    return importlib.util.find_spec("faiss") is not None


def resolve_backend(backend: str, device: torch.device) -> str:
    """``"auto"`` -> ``"faiss"`` when faiss is importable and the device is the CPU, else ``"torch"``.

    faiss-cpu cannot use a CUDA device, and torch on a GPU is faster than faiss on the CPU, so
    ``auto`` keeps torch there. Asking for ``"faiss"`` without faiss installed is a UserError.
    """
    if backend == "auto":
        return "faiss" if device.type == "cpu" and faiss_available() else "torch"
    if backend == "torch":
        return "torch"
    if backend == "faiss":
        if not faiss_available():
            raise MetricError("backend 'faiss' needs faiss: pip install modbench[faiss] (or use backend 'torch')")
        if device.type != "cpu":
            raise MetricError(f"backend 'faiss' runs on the CPU only, not on {device} (use backend 'torch')")
        return "faiss"
    raise MetricError(f"unknown kNN backend '{backend}' (choices: auto, faiss, torch)")


@dataclass
class KnnBlock:
    """The k nearest neighbours of queries ``start:stop``, [b, k], nearest first (numpy arrays)."""

    start: int
    stop: int
    distances: np.ndarray | None  # Euclidean, float64 (square roots of the reference distance)
    indices: np.ndarray  # int64
    exhaustive_queries: int  # distinct points searched exhaustively for this block
    searched_queries: int = 0  # distinct points searched at all for this block (step 1)


@dataclass
class _Points:
    """Step 0: the distinct rows of x. ``point[i]``: the point of row i; points are numbered in
    the order of their first row, so the lower-index rule among points is that among rows.
    ``members[p]``: the rows of point p, ascending."""

    unique: torch.Tensor  # [n_points, D] float32, on x's device
    point: np.ndarray  # [N] int64
    counts: np.ndarray  # [n_points] int64
    members: list[np.ndarray] | None  # None when every row is distinct
    first: np.ndarray | None = None  # [n_points] the first row of each point

    @classmethod
    def of(cls, x: torch.Tensor) -> _Points:
        a = np.ascontiguousarray(x.detach().cpu().numpy() + np.float32(0.0))  # -0.0 -> +0.0
        n, d = a.shape
        # A 64-bit hash of each row's bits (wrapping integer arithmetic), grouped by np.unique,
        # then checked: rows of one group must be bit-identical, else (a collision, never seen)
        # the rows themselves are compared as raw bytes, which is exact but 10x slower.
        bits = a.view(np.uint32).astype(np.uint64)
        h = bits @ (np.random.default_rng(0).integers(0, 2**63, size=d, dtype=np.uint64) | np.uint64(1))
        _, first, inverse, counts = np.unique(h, return_index=True, return_inverse=True, return_counts=True)
        inverse = inverse.reshape(n)
        if first.shape[0] < n and not (a == a[first[inverse]]).all():
            _, first, inverse, counts = np.unique(
                a.view(np.dtype((np.void, 4 * d))).reshape(n), return_index=True, return_inverse=True, return_counts=True
            )
        if first.shape[0] == n:
            return cls(x, np.arange(n, dtype=np.int64), np.ones(n, dtype=np.int64), None)
        order = np.argsort(first)  # points in the order of their first row
        rank = np.empty_like(order)
        rank[order] = np.arange(order.shape[0])
        point = rank[inverse.reshape(n)].astype(np.int64)
        by_point = np.argsort(point, kind="stable")  # rows grouped by point, ascending within
        members = np.split(by_point, np.cumsum(counts[order])[:-1])
        first = first[order].astype(np.int64)
        return cls(x[torch.from_numpy(first).to(x.device)], point, counts[order].astype(np.int64), members, first)


class _RowSearch:
    """The exact neighbours of blocks of rows, from the search among distinct points."""

    def __init__(self, x: torch.Tensor, backend: str, db_block: int, distances: bool, labels: np.ndarray | None):
        self.n = x.shape[0]
        self.pts = _Points.of(x)
        self.distances = distances
        n_points = self.pts.unique.shape[0]
        self.search = PointSearch(self.pts.unique, backend, db_block) if n_points > 1 else None
        if labels is not None and self.pts.members is None and self.search is not None:
            self.search.labels = torch.as_tensor(np.asarray(labels, dtype=np.int64)).to(x.device)

    def block(self, qs: int, qe: int, k: int) -> KnnBlock:
        pts = self.pts
        g = pts.point[qs:qe]
        if pts.members is None:  # every row distinct: points are rows
            d, idx, ex = self.search.search(torch.from_numpy(g).to(pts.unique.device), k, self.distances)
            return self._finish(qs, qe, None if d is None else d.cpu().numpy(), idx.cpu().numpy(), ex, qe - qs)
        need = np.maximum(k - (pts.counts - 1), 0)  # rows wanted from other points, per point
        ask = np.unique(g[need[g] > 0])  # the points to search, ascending
        tail_i = np.zeros((ask.size, k), dtype=np.int64)  # first need[p] columns used
        tail_d = np.zeros((ask.size, k), dtype=np.float64)
        ex = 0
        if ask.size:
            n_points = pts.unique.shape[0]
            ku = int(min(need[ask].max() + 1, n_points - 1))  # +1: to see whether a tie goes on
            d, idx, ex = self.search.search(torch.from_numpy(ask).to(pts.unique.device), ku, True)
            d, idx = d.cpu().numpy(), idx.cpu().numpy()
            # A lone row whose k nearest points are lone rows too: the points are the rows.
            simple = (pts.counts[ask] == 1) & (ku >= k)
            if ku >= k:
                simple &= (pts.counts[idx[:, :k]] == 1).all(axis=1)
                tail_i[simple] = pts.first[idx[simple, :k]]
                tail_d[simple] = d[simple, :k]
            for r in np.flatnonzero(~simple).tolist():
                p = int(ask[r])
                ti, td, e = self._tail(p, int(need[p]), d[r], idx[r])
                tail_i[r, : ti.shape[0]], tail_d[r, : td.shape[0]] = ti, td
                ex += e
        out_i = np.empty((qe - qs, k), dtype=np.int64)
        out_d = np.zeros((qe - qs, k), dtype=np.float64)
        lone = pts.counts[g] == 1
        at = np.searchsorted(ask, g[lone])
        out_i[lone], out_d[lone] = tail_i[at], tail_d[at]
        for p in np.unique(g[~lone]).tolist():  # rows with duplicates: own rows first
            at = np.flatnonzero(g == p)
            own = pts.members[p]
            m = min(k, own.shape[0] - 1)  # own other rows taken, at distance 0
            j = np.arange(m)
            pos = np.searchsorted(own, qs + at)  # where each query sits among its own rows
            out_i[at, :m] = own[j[None, :] + (j[None, :] >= pos[:, None])]
            if m < k:
                r = int(np.searchsorted(ask, p))
                out_i[at, m:], out_d[at, m:] = tail_i[r, : k - m], tail_d[r, : k - m]
        return self._finish(qs, qe, out_d if self.distances else None, out_i, ex, int(ask.size))

    @staticmethod
    def _finish(qs: int, qe: int, squared: np.ndarray | None, idx: np.ndarray, ex: int, searched: int) -> KnnBlock:
        """The block, with Euclidean distances from the squared reference ones: one square root
        for every path, numpy's (IEEE 754, correctly rounded; torch's vectorised CPU square root
        is not, so two paths gave distances one ulp apart)."""
        return KnnBlock(qs, qe, None if squared is None else np.sqrt(squared), idx, ex, searched)

    def _tail(self, p: int, need: int, d: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """The first ``need`` rows of other points for point ``p``, by (distance, row index), from
        its nearest points ``idx`` (distances ``d``, squared). Rows of points at one distance
        interleave by index, so the whole tie level of the last point needed is merged."""
        pts = self.pts
        n_points = pts.unique.shape[0]
        exhaustive = 0
        cum = np.cumsum(pts.counts[idx])
        last = min(int(np.searchsorted(cum, need)), idx.shape[0] - 1)
        level = int(np.searchsorted(d, d[last], side="right")) - 1  # last point at that distance
        if level == idx.shape[0] - 1 and idx.shape[0] < n_points - 1:
            # The tie level may go on beyond the points searched: all of them, exhaustively.
            dd, ii = self.search.exhaustive(torch.tensor([p], device=pts.unique.device), n_points - 1)
            d, idx = dd[0].cpu().numpy(), ii[0].cpu().numpy()
            level = int(np.searchsorted(d, d[last], side="right")) - 1
            exhaustive = 1
        rows = np.concatenate([pts.members[q] for q in idx[: level + 1].tolist()])
        dist = np.repeat(d[: level + 1], pts.counts[idx[: level + 1]])
        order = np.lexsort((rows, dist))[:need]
        return rows[order], dist[order], exhaustive


def iter_knn(
    x: torch.Tensor,
    k: int | np.ndarray,
    *,
    backend: str = "torch",
    block_size: int | None = None,
    db_block: int = DEFAULT_DB_BLOCK,
    distances: bool = True,
    labels: np.ndarray | None = None,
) -> Iterator[KnnBlock]:
    """Exact kNN of every row of ``x`` (float32 [N, D], on its device), one query block at a time.

    ``k`` is an int, or one int per row (a block then gets the largest k of its rows, e.g. R for
    MAP@R); it is capped at N - 1. ``backend`` is ``"torch"`` (modbench's blocked search) or
    ``"faiss"`` (already resolved; coarse step only). Blocks come in query order. Memory is
    O(block_size x (db_block + k)) plus the embeddings. ``distances=False`` leaves
    ``KnnBlock.distances`` None and saves computing them (the neighbours are the same).
    ``labels`` [N] (with ``distances=False``): the caller needs only the labels of the neighbours,
    so near-tied neighbours that share a label may be left in any order; the label sequence of
    every query is exactly that of the exact neighbours (``compute_metrics`` uses this).
    """
    if x.dim() != 2:
        raise ValueError(f"x must be [N, D], got shape {tuple(x.shape)}")
    if backend not in ("torch", "faiss"):
        raise ValueError(f"unknown backend {backend!r}")
    if backend == "faiss" and x.device.type != "cpu":
        raise ValueError("the faiss backend runs on the CPU only")
    x = x.float().contiguous()
    n, _ = x.shape
    if n < 2:
        raise ValueError("kNN needs at least 2 rows")
    per_row = None if np.isscalar(k) else np.minimum(np.asarray(k, dtype=np.int64), n - 1)
    k_max = int(per_row.max()) if per_row is not None else int(min(int(k), n - 1))
    if k_max < 1:
        raise ValueError("k must be >= 1")
    search = _RowSearch(x, backend, db_block, distances, labels)
    if block_size is not None:
        qb = max(1, int(block_size))
    else:
        db = min(n, db_block)
        qb = int(max(64, min(4096, DEFAULT_BLOCK_BYTES // (4 * (db + k_max + candidate_pad(k_max))))))
        # The float64 refinement of a block's candidates stays within the same budget.
        qb = int(max(1, min(qb, DEFAULT_BLOCK_BYTES // (8 * (k_max + candidate_pad(k_max))))))
    for qs in range(0, n, qb):
        qe = min(n, qs + qb)
        yield search.block(qs, qe, k_max if per_row is None else max(1, int(per_row[qs:qe].max())))


@dataclass
class KnnResult:
    """Neighbours of every row: ``distances`` (Euclidean, float64) and ``indices`` (int64), [N, k]."""

    distances: np.ndarray
    indices: np.ndarray
    backend: str
    exhaustive_queries: int
    searched_queries: int = 0


def knn(
    embeddings,
    k: int,
    *,
    backend: str = "torch",
    device=None,
    block_size: int | None = None,
    db_block: int = DEFAULT_DB_BLOCK,
) -> KnnResult:
    """The ``min(k, N-1)`` nearest other rows of every row of ``embeddings`` (no normalisation here).

    Exact: see the module docstring for the method and the tie rule (lower index first).
    ``backend``: "torch", "faiss" or "auto". Returns numpy arrays of shape [N, min(k, N-1)].
    """
    x = torch.as_tensor(embeddings)
    dev = torch.device(device) if device is not None else x.device
    x = x.to(dev).float()
    be = resolve_backend(backend, dev)
    ds, is_, ex, searched = [], [], 0, 0
    for blk in iter_knn(x, k, backend=be, block_size=block_size, db_block=db_block):
        ds.append(blk.distances)
        is_.append(blk.indices)
        ex += blk.exhaustive_queries
        searched += blk.searched_queries
    return KnnResult(np.concatenate(ds), np.concatenate(is_), be, ex, searched)
