"""The exact k nearest other points of given points, among distinct points (steps 1-3 of
``knn_search``): the one search, on any torch device.

The order is the *reference distance* (``_reference``: the sum of squared float64 differences of
the float32 embeddings), equal distances broken by the lower index; the query is excluded by its
index.

1. *Coarse search* in float32, by blocks: a block of queries times a chunk of the points at a
   time (``|x|^2 - 2 q.x``, one ``addmm``) with a running two-stage selection of the
   ``kc = k + pad`` smallest (``torch.topk``; numpy's ``argpartition`` on the CPU), so memory is
   O(query_block x (db_block + kc)), never N x N; the steps are the same on every device.
   (The faiss backend, an optional extra, asks ``IndexFlatL2`` for the ``kc + 1`` nearest
   instead and drops the query's own index.)
2. *Re-ranking in float64*: a coarse squared distance lies within a worst-case float32 rounding
   bound of the reference one, ``err = (2D + 24) * 2**-24 * (|q|^2 + max |x|^2)``. The candidates
   are sorted by coarse distance; where consecutive ones are within ``2 err`` of each other (a
   "cluster"), the coarse order may be wrong, so those get their reference distance and are
   ordered by (reference distance, index). Candidates more than ``2 err`` apart are in reference
   order already.
3. *Check*: if the coarse distance of the worst candidate, minus ``err``, is still above the
   largest reference distance the k-th neighbour's cluster can have, no point outside the
   candidates can be among the k nearest. Otherwise (near-ties at the edge of the candidate list)
   the query is searched again exhaustively with the reference distance; ``exhaustive_queries``
   counts those.

So the result is the exact top-k under the reference distance and the lower-index tie rule,
whatever the backend, the block sizes or the thread count.
"""

from __future__ import annotations

import numpy as np
import torch

# Imports inside functions here: faiss is optional: imported only when the faiss backend is asked
# for and installed.

_U32 = 2.0**-24  # unit roundoff of float32

# Bytes a block of coarse distances (or of float64 differences) may use: the main memory cost.
DEFAULT_BLOCK_BYTES = 32 * 2**20
# Database rows per chunk: large, so that the per-chunk costs of selection are paid rarely.
DEFAULT_DB_BLOCK = 65536
# Bytes of gathered float64 candidate rows per re-ranking step: small enough to stay in cache.
_REFINE_BYTES = 2 * 2**20


_GROUP = 16  # columns per group in the two-stage selection (see _smallest)


def _smallest(v: torch.Tensor, k: int, sorted: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The k smallest entries of each row of contiguous ``v`` [b, m] and their columns.

    Two stages when the rows are long, so that the selection proper sees a small fraction of the
    entries: split the first ``g * w`` columns into ``g`` slices of ``w`` and take the minimum
    across slices (group j = columns j, j + w, j + 2w, ...); pick the k groups with the smallest
    minima; select the k smallest among those groups' entries and the leftover columns. Exact: a
    group holding one of the k smallest entries has a minimum no larger than the k-th smallest
    value, and fewer than k groups have a smaller one, so it is always picked (with ties the
    picked entries are still k of the smallest values and every other entry is >= all of them).
    On the CPU the selection is numpy's ``argpartition`` (introselect, linear time), on memory
    shared with torch, and the kept entries are sorted as packed integer keys
    (``_sort_rows_cpu``). Measured side by side at k = R ~ 1,000 on 10,000 x 64
    (``benchmarks/eval_tuning.py``, docs/benchmarks.md): ``torch.topk`` took 1.3x the CPU time of
    argpartition + sort, and numpy's sort of packed keys a third of torch's ``sort`` of the values.
    Any choice gives the same neighbours: step 2 re-ranks tied candidates exactly.
    """
    if v.device.type == "cpu":
        pos = _smallest_cpu(v.numpy(), k)
        if sorted:
            vals, pos = _sort_rows_cpu(np.take_along_axis(v.numpy(), pos, axis=1), pos)
            return torch.from_numpy(vals), torch.from_numpy(pos)
        pos = torch.from_numpy(pos)
        return torch.gather(v, 1, pos), pos
    return _smallest_torch(v, k, sorted)


def _sort_rows_cpu(vals: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row of float32 ``vals`` [b, k] sorted ascending, with its ``cols`` (< 2**32), equal
    values by column. One sort of int64 keys: the float's bits mapped to an integer of the same
    order (negative floats: magnitude bits flipped) in the high half, the column in the low half.
    numpy sorts integers with SIMD code; about 3x faster than ``torch.sort`` of the floats and
    a permutation gather on this machine. (-0.0 sorts just before +0.0; no NaN reaches here.)"""
    bits = vals.view(np.int32)
    order_bits = (bits ^ ((bits >> 31) & np.int32(0x7FFFFFFF))).astype(np.int64)
    keys = (order_bits << 32) | cols.astype(np.int64)
    keys.sort(axis=1)
    high = (keys >> 32).astype(np.int32)
    out = (high ^ ((high >> 31) & np.int32(0x7FFFFFFF))).view(np.float32)
    return out, keys & np.int64(0xFFFFFFFF)


def _stable_argsort(key: torch.Tensor) -> torch.Tensor:
    """``torch.argsort(key, dim=1, stable=True)``; on the CPU numpy's stable sort (timsort),
    the same permutation (a stable sort has one answer) about 8x faster on the nearly sorted rows
    step 2 sorts."""
    if key.device.type == "cpu":
        return torch.from_numpy(np.argsort(key.numpy(), axis=1, kind="stable"))
    return torch.argsort(key, dim=1, stable=True)


def _smallest_torch(v: torch.Tensor, k: int, sorted: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``_smallest`` with torch operations (other devices than the CPU)."""
    b, m = v.shape
    w = m // _GROUP
    if w <= 2 * k:
        return torch.topk(v, k, dim=1, largest=False, sorted=sorted)
    groups = torch.topk(v[:, : _GROUP * w].view(b, _GROUP, w).amin(1), k, dim=1, largest=False, sorted=False).indices
    cols = (groups.unsqueeze(1) + (torch.arange(_GROUP, device=v.device) * w).view(1, _GROUP, 1)).reshape(b, _GROUP * k)
    if _GROUP * w < m:  # leftover columns join the final selection
        cols = torch.cat([cols, torch.arange(_GROUP * w, m, device=v.device).expand(b, m - _GROUP * w)], 1)
    vals, pos = torch.topk(torch.gather(v, 1, cols), k, dim=1, largest=False, sorted=sorted)
    return vals, torch.gather(cols, 1, pos)


def _take_rows(a: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``a[r, cols[r, j]]`` for a 2-D ``a``: flat indexing, faster than take_along_axis."""
    return np.take(a.reshape(-1), cols + (np.arange(a.shape[0]) * a.shape[1])[:, None])


def _smallest_cpu(a: np.ndarray, k: int) -> np.ndarray:
    """``_smallest`` on a contiguous float32 numpy array: the columns, unordered."""
    b, m = a.shape
    if k >= m:
        return np.broadcast_to(np.arange(m), (b, m)).copy()
    w = m // _GROUP
    if w <= 2 * k:
        return np.argpartition(a, k - 1, axis=1)[:, :k]
    groups = np.argpartition(a[:, : _GROUP * w].reshape(b, _GROUP, w).min(axis=1), k - 1, axis=1)[:, :k]
    cols = (groups[:, None, :] + (np.arange(_GROUP) * w)[None, :, None]).reshape(b, _GROUP * k)
    if _GROUP * w < m:
        cols = np.concatenate([cols, np.broadcast_to(np.arange(_GROUP * w, m), (b, m - _GROUP * w))], axis=1)
    cols = np.ascontiguousarray(cols)
    return _take_rows(cols, np.argpartition(_take_rows(a, cols), k - 1, axis=1)[:, :k])


def candidate_pad(k: int) -> int:
    """Extra candidates beyond k, so that the check in step 3 almost never fails."""
    return max(16, k // 8)


def _reference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared reference distances of rows ``a`` and ``b`` (float64 copies of the float32
    embeddings, broadcast against each other, last dimension D): the sum of squared differences,
    float64. Every step uses this one function.

    The sum is a pairwise tree of element-wise additions (the D terms padded with zeros to a
    power of two, then halves added until one is left), so its rounding is fixed by D alone:
    the same bits on every device and for every block shape. ``Tensor.sum`` promises no order
    (CPU and CUDA reductions differ in the last bit), and the order defines the ties."""
    diff = a - b
    sq = diff * diff
    width = sq.shape[-1]
    full = 1 << max(0, (width - 1).bit_length())
    if full != width:
        sq = torch.nn.functional.pad(sq, (0, full - width))  # + 0.0 is exact
    while full > 1:
        full //= 2
        sq = sq[..., :full] + sq[..., full:]
    return sq[..., 0]


def _lexsort(keys: list[torch.Tensor]) -> torch.Tensor:
    """Row-wise order by several keys of [b, m], the LAST key primary (as ``numpy.lexsort``)."""
    order = torch.argsort(keys[0], dim=1, stable=True)
    for key in keys[1:]:
        order = torch.gather(order, 1, torch.argsort(torch.gather(key, 1, order), dim=1, stable=True))
    return order


class PointSearch:
    """Steps 1-3 among distinct points ``u`` [n, D] float32 on one device: the exact k nearest
    other points of given query points, ordered by (reference distance, point index)."""

    def __init__(self, u: torch.Tensor, backend: str, db_block: int):
        self.u = u
        self.n, self.dim = u.shape
        self.un = (u * u).sum(1)  # float32 squared norms
        self.un_max = float(self.un.max())
        self.coef = (2 * self.dim + 24) * _U32
        self.neg2u = -2.0 * u  # exact (a power of two); the rounding bound covers the D terms
        self.u64 = u.double()  # re-ranking gathers from it: no casting per candidate
        self.labels: torch.Tensor | None = None  # see search()
        self.db_block = -(-self.n // -(-self.n // max(1, db_block)))  # balanced chunks
        self.backend = backend
        if backend == "faiss":
            import faiss

            self.index = faiss.IndexFlatL2(self.dim)
            self.index.add(u.cpu().numpy())

    def reference_pairs(self, q: torch.Tensor, cand: torch.Tensor) -> torch.Tensor:
        """Reference distances of pairs (q[p], cand[p]) of point indices, 1-D: chunked."""
        out = torch.empty(cand.shape[0], dtype=torch.float64, device=self.u.device)
        step = max(1, _REFINE_BYTES // (8 * self.dim))
        for s in range(0, cand.shape[0], step):
            e = min(cand.shape[0], s + step)
            out[s:e] = _reference(torch.index_select(self.u64, 0, q[s:e]), torch.index_select(self.u64, 0, cand[s:e]))
        return out

    def coarse(self, q: torch.Tensor, kc: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Step 1: candidates [b, kc] sorted by their coarse squared distances (float64, [b, kc])
        and, per query, a value every point outside the candidates has a coarse distance of at
        least."""
        if self.backend == "faiss":
            return self._coarse_faiss(q, kc)
        b = q.shape[0]
        rows = torch.arange(b, device=q.device)
        best_v = best_i = None
        for s in range(0, self.n, self.db_block):
            e = min(self.n, s + self.db_block)
            v = self._product(q, s, e)
            own = (q >= s) & (q < e)
            v[rows[own], q[own] - s] = float("inf")  # the query itself, by index
            last = e == self.n  # the last selection comes sorted (what step 2 needs)
            vals, pos = _smallest(v, min(kc, e - s), sorted=last and best_v is None)
            pos += s
            if best_v is not None:
                vals, pos = torch.cat([best_v, vals], 1), torch.cat([best_i, pos], 1)
                vals, sel = torch.topk(vals, min(kc, vals.shape[1]), dim=1, largest=False, sorted=last)
                pos = torch.gather(pos, 1, sel)
            best_v, best_i = vals, pos
        coarse = best_v.double() + self.un[q].double().unsqueeze(1)  # still sorted: one shift per row
        return best_i, coarse, coarse[:, -1]

    def _product(self, q: torch.Tensor, s: int, e: int) -> torch.Tensor:
        """``|u_j|^2 - 2 q.u_j`` in float32 for the points j in s:e, [b, e - s]: one ``addmm``."""
        return torch.addmm(self.un[s:e].unsqueeze(0), self.u[q], self.neg2u[s:e].T)

    def _coarse_faiss(self, q: torch.Tensor, kc: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """faiss IndexFlatL2 top-(kc+1), the query's own index dropped (else the farthest)."""
        kq = min(kc + 1, self.n)
        qn = q.cpu().numpy()
        dist, idx = self.index.search(self.u.cpu().numpy()[qn], kq)
        b = qn.shape[0]
        keep = idx != qn[:, None]
        keep[keep.all(axis=1), kq - 1] = False  # self not returned (ties at distance 0)
        cand = torch.from_numpy(idx[keep].reshape(b, kq - 1).astype(np.int64))
        coarse = torch.from_numpy(dist[keep].reshape(b, kq - 1).astype(np.float64))
        return cand, coarse, torch.from_numpy(dist[:, -1].astype(np.float64))

    def search(self, q: torch.Tensor, k: int, distances: bool) -> tuple[torch.Tensor | None, torch.Tensor, int]:
        """Exact k nearest other points of points ``q`` [b]: (squared reference distances [b, k]
        float64 or None, indices [b, k], number of queries searched exhaustively)."""
        kc = min(k + candidate_pad(k), self.n - 1)
        cand, coarse, worst = self.coarse(q, kc)
        b = q.shape[0]
        rows = torch.arange(b, device=q.device)
        err = self.coef * (self.un[q].double() + self.un_max)  # [b]
        close = (coarse[:, 1:] - coarse[:, :-1]) <= 2 * err[:, None]  # pair j, j+1 unresolved
        cluster = torch.cat([torch.zeros((b, 1), dtype=torch.long, device=q.device), torch.cumsum(~close, 1)], 1)
        tied = torch.zeros((b, kc), dtype=torch.bool, device=q.device)
        tied[:, 1:] |= close
        tied[:, :-1] |= close
        if self.labels is not None and not distances:
            # The caller sees labels only: a cluster whose members share one label gives the same
            # label sequence in any order, so only clusters with two labels or more are re-ranked.
            lab = self.labels[cand]
            key = rows[:, None] * kc + cluster
            mixed = torch.zeros(b * kc, dtype=torch.bool, device=q.device)
            mixed[key[:, 1:][close & (lab[:, 1:] != lab[:, :-1])]] = True
            tied &= mixed[key]
        ref = torch.zeros((b, kc), dtype=torch.float64, device=q.device)
        r, j = tied.nonzero(as_tuple=True)
        if r.numel():
            ref[r, j] = self.reference_pairs(q[r], cand[r, j])
        # Sort key: the reference distance where computed, else the coarse one. Clusters are more
        # than 2 err apart in coarse distance, so their reference distances lie in disjoint
        # ranges in the same order: one sort by this key orders by (cluster, reference distance).
        key = torch.where(tied, ref, coarse)
        sel = _stable_argsort(key)
        skey, scand = torch.gather(key, 1, sel), torch.gather(cand, 1, sel)
        redo = ((skey[:, 1:] == skey[:, :-1]) & (scand[:, 1:] < scand[:, :-1])).any(1).nonzero().flatten()
        if redo.numel():  # equal distances: lower index first
            sel[redo] = _lexsort([cand[redo], key[redo]])
        sel = sel[:, :k]
        idx = torch.gather(cand, 1, sel)
        # Every selected candidate's reference distance is at most the coarse distance that ends
        # the k-th one's cluster + err; every point outside the candidates has one of at least
        # worst - err. The first is below the second: the top k is exact. Else: exhaustive.
        if kc >= self.n - 1:
            bad = torch.zeros(0, dtype=torch.long, device=q.device)  # every other point is a candidate
        else:
            kth_cluster = torch.gather(cluster, 1, sel[:, k - 1 :])
            end = (cluster <= kth_cluster).sum(1) - 1  # last position of that cluster
            bad = (~(worst.to(q.device) - err > coarse[rows, end] + err)).nonzero().flatten()
        d = None
        if distances:
            d = self.reference_pairs(q.repeat_interleave(k), idx.reshape(-1)).view(b, k)
        if bad.numel():
            d_bad, idx[bad] = self.exhaustive(q[bad], k)
            if d is not None:
                d[bad] = d_bad
        return d, idx, int(bad.numel())

    def exhaustive(self, q: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact top-k by the reference distance over all points, in chunks visited in index
        order and merged with a stable sort, so equal distances keep the lower index first."""
        b = q.shape[0]
        chunk = max(1, DEFAULT_BLOCK_BYTES // (8 * self.dim * b))
        rows = torch.arange(b, device=q.device)
        qx = self.u64[q]
        best_d = torch.empty((b, 0), dtype=torch.float64, device=q.device)
        best_i = torch.empty((b, 0), dtype=torch.long, device=q.device)
        for s in range(0, self.n, chunk):
            e = min(self.n, s + chunk)
            d = _reference(qx.unsqueeze(1), self.u64[s:e].unsqueeze(0))
            own = (q >= s) & (q < e)
            d[rows[own], q[own] - s] = float("inf")  # the query itself, by index
            d = torch.cat([best_d, d], 1)
            i = torch.cat([best_i, torch.arange(s, e, device=q.device).expand(b, e - s)], 1)
            d, order = torch.sort(d, dim=1, stable=True)
            best_d, best_i = d[:, :k], torch.gather(i, 1, order[:, :k])
        return best_d, best_i
