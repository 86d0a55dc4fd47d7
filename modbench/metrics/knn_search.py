"""Exact k-nearest-neighbour search among the rows of one embedding matrix.

The neighbours of row ``i`` are the other rows (row ``i`` itself is excluded by its index, not by
its distance, so a duplicate of the query still counts as a neighbour), ordered by Euclidean
distance, equal distances broken by the lower index.

The *reference distance* that defines the order is ``|x_j - x_i|^2`` of the float32 embeddings,
computed in float64 as the sum of squared differences (``_ref_sq_np`` on the CPU,
``_ref_sq_torch`` on a GPU); one function per device, used by every backend and every path, so
bit-identical rows get bit-identical distances and only truly equal distances tie (float32 would
tie distinct distances by rounding: it did in this package's tests, among 120 points in 64-D). How the search stays exact, memory-bounded and identical across backends:

1. *Coarse search* in float32, by blocks: modbench's own search ("torch" backend) multiplies a
   block of queries with a chunk of the database at a time (``|x|^2 - 2 q.x``) and keeps a running
   top-``kc`` (``kc = k + pad``), so memory is O(query_block x (db_block + kc)), never N x N; the
   faiss backend asks ``IndexFlatL2`` for the ``kc + 1`` nearest and drops the query's own index.
2. *Refinement*: a coarse squared distance lies within a worst-case float32 rounding bound of
   the reference one, ``err = (2D + 24) * 2**-24 * (|q|^2 + max |x|^2)``. The candidates are
   sorted by coarse distance; where consecutive ones are within ``2 err`` of each other (a
   "cluster"), the coarse order may be wrong, so those get their reference distance and are
   ordered by (reference distance, index). Candidates more than ``2 err`` apart are in reference
   order already. (On the GPU every candidate is refined: simpler, and cheap there.) When the
   caller needs only the neighbours' labels (``compute_metrics``), a cluster whose members all
   have one label is not refined: any order of it gives the same labels.
3. *Check*: if the coarse distance of the worst candidate, minus ``err``, is still above the
   largest reference distance the k-th neighbour's cluster can have, no row outside the
   candidates can be among the k nearest. Otherwise (exact ties or near-ties at the edge of the
   candidate list, many duplicates) the query is searched again exhaustively with the reference
   distance.

So the result is the exact top-k under the reference distance and the lower-index tie rule,
whatever the backend, the block sizes or the thread count. (A CPU and a GPU reference distance
can differ in the last float64 bit for rows that are not bit-identical, so near-ties at 1e-16
may order differently across devices; never across backends on one device.)

On the CPU both backends do their bookkeeping with numpy in a pool of Python threads (numpy
releases the GIL), one query block per thread, with single-threaded BLAS inside each: on a busy
machine, thousands of small multi-threaded torch operations spent most of their time waiting at
OpenMP barriers (measured 20x slower than one thread under a load of 3 per core).
"""

from __future__ import annotations

import importlib.util
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

_U32 = 2.0**-24  # unit roundoff of float32

# Bytes a worker's block of coarse distances may use (the torch backend's main memory cost).
DEFAULT_BLOCK_BYTES = 32 * 2**20
# Database rows per chunk: large, so that the per-row costs of selection are paid rarely.
DEFAULT_DB_BLOCK = 65536
# Columns per group in the two-stage selection (see _smallest_grouped_np).
_GROUP = 16
# Bytes of gathered candidate rows per refinement step: small enough to stay in cache.
_REFINE_BYTES = 2 * 2**20


def faiss_available() -> bool:
    """True when ``import faiss`` would succeed (the ``modbench[faiss]`` extra)."""
    return importlib.util.find_spec("faiss") is not None


def resolve_backend(backend: str, device: torch.device) -> str:
    """``"auto"`` -> ``"faiss"`` when faiss is importable and the device is the CPU, else ``"torch"``.

    faiss-cpu cannot use a CUDA device, and torch on a GPU is faster than faiss on the CPU, so
    ``auto`` keeps torch there. Asking for ``"faiss"`` without faiss installed is a UserError.
    """
    from modbench.metrics.names import MetricError

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


def _pad(k: int) -> int:
    """Extra candidates beyond k, so that the check in step 3 almost never fails."""
    return max(16, k // 8)


def _workers() -> int:
    return max(1, min(torch.get_num_threads(), os.cpu_count() or 1))


@dataclass
class KnnBlock:
    """The k nearest neighbours of queries ``start:stop``, [b, k], nearest first (numpy arrays)."""

    start: int
    stop: int
    distances: np.ndarray | None  # Euclidean, float64 (square roots of the reference distance)
    indices: np.ndarray  # int64
    exhaustive_queries: int  # queries of this block that needed the exhaustive search


# --------------------------------------------------------------------------------------------
# CPU: numpy, one query block per worker thread


def _ref_sq_np(q: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Squared reference distances of queries ``q`` [b, D] to ``rows`` [b, m, D], both float64
    copies of the float32 embeddings (``rows`` is overwritten): [b, m] float64, summed by one
    einsum kernel whatever the shapes."""
    np.subtract(rows, q[:, None, :], out=rows)
    return np.einsum("ijk,ijk->ij", rows, rows)


def _take_rows(a: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``a[r, cols[r, j]]`` for a 2-D ``a``: flat indexing, faster than take_along_axis."""
    flat = cols + (np.arange(a.shape[0]) * a.shape[1])[:, None]
    return np.take(a.reshape(-1), flat)


def _smallest_np(v: np.ndarray, k: int) -> np.ndarray:
    """Columns of the k smallest entries of each row, in no particular order."""
    if k >= v.shape[1]:
        return np.broadcast_to(np.arange(v.shape[1]), v.shape).copy()
    return np.argpartition(v, k - 1, axis=1)[:, :k]


def _smallest_grouped_np(v: np.ndarray, k: int) -> np.ndarray:
    """Columns of the k smallest entries of each row of contiguous ``v`` [b, m], in no order.

    Two stages, so that the selection proper sees a small fraction of the entries: split the
    first ``g * w`` columns into ``g`` slices of ``w`` and take the minimum across slices (one
    vectorised pass; group j = columns j, j + w, j + 2w, ...); pick the k groups with the smallest
    minima; select the k smallest among those groups' entries and the leftover columns. Exact: a
    group holding one of the k smallest entries has a minimum no larger than the k-th smallest
    value, and fewer than k groups have a smaller one, so it is always picked (with ties the
    picked entries are still k of the smallest values and every other entry is >= all of them).
    """
    b, m = v.shape
    g = _GROUP
    w = m // g
    if w <= 2 * k:
        return _smallest_np(v, k)
    slices = np.lib.stride_tricks.as_strided(v, (b, g, w), (v.strides[0], w * v.strides[1], v.strides[1]))
    gsel = _smallest_np(np.minimum.reduce(slices, axis=1), k)  # [b, k] group ids
    cols = (gsel[:, None, :] + (np.arange(g) * w)[None, :, None]).reshape(b, g * k)
    if g * w < m:  # leftover columns join the final selection
        cols = np.concatenate([cols, np.broadcast_to(np.arange(g * w, m), (b, m - g * w))], axis=1)
    pos = _smallest_np(_take_rows(v, cols), k)
    return _take_rows(cols, pos)


class _CpuSearch:
    def __init__(self, x: np.ndarray, backend: str, db_block: int, labels: np.ndarray | None = None):
        self.labels = labels
        self.x = x
        self.n, self.dim = x.shape
        self.xn = np.einsum("ij,ij->i", x, x)  # float32 squared norms
        self.xn_max = float(self.xn.max())
        self.coef = (2 * self.dim + 24) * _U32
        self.x64 = x.astype(np.float64)  # refinement gathers from it: no casting per candidate
        self.db_block = db_block
        self.backend = backend
        if backend == "torch":
            # [-2x, |x|^2]: with queries [q, 1], one product gives |x|^2 - 2 q.x (no extra pass).
            # -2x is exact (a power of two); the rounding bound covers the D + 1 terms.
            self.aug = np.empty((self.n, self.dim + 1), dtype=np.float32)
            np.multiply(x, -2.0, out=self.aug[:, : self.dim])
            self.aug[:, self.dim] = self.xn
        else:
            import faiss

            self.index = faiss.IndexFlatL2(self.dim)
            self.index.add(x)

    # step 1
    def coarse_own(self, qs: int, qe: int, kc: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Running top-kc by ``|x|^2 - 2 q.x``: candidates [b, kc], their coarse squared distances
        (float64) and the largest of those per row (every other row's is at least as large)."""
        b = qe - qs
        q = np.ones((b, self.dim + 1), dtype=np.float32)
        q[:, : self.dim] = self.x[qs:qe]
        buf = np.empty((b, self.db_block), dtype=np.float32)
        best_v = best_i = None
        for s in range(0, self.n, self.db_block):
            e = min(self.n, s + self.db_block)
            v = buf[:, : e - s] if e - s == self.db_block else np.empty((b, e - s), dtype=np.float32)
            np.matmul(q, self.aug[s:e].T, out=v)
            lo, hi = max(qs, s), min(qe, e)
            if lo < hi:  # the query itself, by index
                own = np.arange(lo, hi)
                v[own - qs, own - s] = np.inf
            pos = _smallest_grouped_np(v, min(kc, e - s))
            vals = _take_rows(v, pos)
            pos += s
            if best_v is not None:
                vals = np.concatenate([best_v, vals], 1)
                pos = np.concatenate([best_i, pos], 1)
                sel = _smallest_np(vals, min(kc, vals.shape[1]))
                vals, pos = _take_rows(vals, sel), _take_rows(pos, sel)
            best_v, best_i = vals, pos
        coarse = best_v.astype(np.float64) + self.xn[qs:qe, None]
        return best_i, coarse, coarse.max(axis=1)

    def coarse_faiss(self, qs: int, qe: int, kc: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """faiss IndexFlatL2 top-(kc+1), the query's own index dropped (else the farthest); as coarse_own."""
        kq = min(kc + 1, self.n)
        dist, idx = self.index.search(self.x[qs:qe], kq)
        b = qe - qs
        keep = idx != np.arange(qs, qe)[:, None]
        keep[keep.all(axis=1), kq - 1] = False  # self not returned (duplicates at distance 0)
        cand = idx[keep].reshape(b, kq - 1).astype(np.int64)
        return cand, dist[keep].reshape(b, kq - 1).astype(np.float64), dist[:, -1].astype(np.float64)

    # steps 2 and 3
    def reference(self, qidx: np.ndarray, cand: np.ndarray) -> np.ndarray:
        """Squared reference distances of pairs (qidx[p], cand[p]), p over a 1-D array: float64."""
        out = np.empty(cand.shape[0], dtype=np.float64)
        step = max(1, _REFINE_BYTES // (8 * self.dim))  # gathered rows stay in cache
        for s in range(0, cand.shape[0], step):
            e = min(cand.shape[0], s + step)
            rows = np.take(self.x64, cand[s:e], axis=0)[:, None, :]
            out[s:e] = _ref_sq_np(self.x64[qidx[s:e]], rows)[:, 0]
        return out

    # steps 2 and 3
    def finish(
        self, qs: int, qe: int, cand: np.ndarray, coarse: np.ndarray, worst: np.ndarray, k: int, distances: bool
    ) -> KnnBlock:
        """The k nearest of queries qs:qe from their candidates (see the module docstring).

        Only candidates whose order the coarse distances cannot settle get a reference distance:
        sorted by coarse distance, a run of candidates with gaps <= 2 err ("cluster") is ordered
        by (reference distance, index); distinct clusters are at least 2 err apart, so their order
        is that of the reference distance already. ``distances``: also return the reference
        distances of the k neighbours (the metrics need only the indices).
        """
        b, kc = cand.shape
        rows = np.arange(b)
        err = self.coef * (self.xn[qs:qe].astype(np.float64) + self.xn_max)  # [b]
        order = np.argsort(coarse, axis=1)  # the order of equal coarse values is settled below
        cand, coarse = _take_rows(cand, order), _take_rows(coarse, order)
        close = np.diff(coarse, axis=1) <= 2 * err[:, None]  # [b, kc - 1]: pair j, j+1 unresolved
        cluster = np.concatenate([np.zeros((b, 1), np.int64), np.cumsum(~close, axis=1)], axis=1)
        tied = np.zeros((b, kc), dtype=bool)
        tied[:, 1:] |= close
        tied[:, :-1] |= close
        if self.labels is not None and not distances:
            # Metrics see labels only: a cluster whose members share one label gives the same
            # label sequence in any order, so only clusters with two labels or more are refined.
            lab = self.labels[cand]
            key = rows[:, None] * kc + cluster
            mixed = np.zeros(b * kc, dtype=bool)
            mixed[key[:, 1:][close & (lab[:, 1:] != lab[:, :-1])]] = True
            tied &= mixed[key]
        ref = np.zeros((b, kc), dtype=np.float64)
        r, j = np.nonzero(tied)
        if r.size:
            ref[r, j] = self.reference(qs + r, cand[r, j])
        order = np.lexsort((cand, ref, cluster), axis=-1)[:, :k]
        i = _take_rows(cand, order)
        # Every selected candidate's reference distance is at most the coarse distance that ends
        # the k-th one's cluster + err; every row outside the candidates has one of at least
        # worst - err. The first is below the second: the top k is exact. Else: exhaustive.
        if kc >= self.n - 1:
            bad = np.zeros(0, dtype=np.int64)  # every other row is a candidate
        else:
            kth_cluster = cluster[rows, order[:, k - 1]]
            end = (cluster <= kth_cluster[:, None]).sum(axis=1) - 1  # last position of that cluster
            bad = np.flatnonzero(~(worst - err > coarse[rows, end] + err))
        d = None
        if distances:
            d = self.reference(np.repeat(np.arange(qs, qe), k), i.reshape(-1)).reshape(b, k)
        if bad.size:
            d_bad, i[bad] = self.exhaustive(qs + bad, k)
            if d is not None:
                d[bad] = d_bad
        return KnnBlock(qs, qe, None if d is None else np.sqrt(d), i, int(bad.size))

    def exhaustive(self, qidx: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k by the reference distance over all rows, in chunks visited in index order
        and merged with a stable sort, so equal distances keep the lower index first."""
        b = qidx.shape[0]
        chunk = max(1, DEFAULT_BLOCK_BYTES // (8 * self.dim * b))
        q = self.x64[qidx]
        best_d = np.empty((b, 0), dtype=np.float64)
        best_i = np.empty((b, 0), dtype=np.int64)
        for s in range(0, self.n, chunk):
            e = min(self.n, s + chunk)
            d = _ref_sq_np(q, np.repeat(self.x64[None, s:e], b, axis=0))
            own = (qidx >= s) & (qidx < e)
            d[np.flatnonzero(own), qidx[own] - s] = np.inf  # the query itself, by index
            d = np.concatenate([best_d, d], 1)
            idx = np.concatenate([best_i, np.broadcast_to(np.arange(s, e), (b, e - s))], 1)
            order = np.argsort(d, axis=1, kind="stable")[:, :k]
            best_d, best_i = _take_rows(d, order), _take_rows(np.ascontiguousarray(idx), order)
        return best_d, best_i


_BLAS_CONTROLLER = None


def _blas_single_thread():
    """A context in which BLAS libraries run one thread (threadpoolctl); the library scan, which
    costs ~20 ms, happens once."""
    global _BLAS_CONTROLLER
    from threadpoolctl import ThreadpoolController

    if _BLAS_CONTROLLER is None:
        _BLAS_CONTROLLER = ThreadpoolController()
    return _BLAS_CONTROLLER.limit(limits=1, user_api="blas")


def _iter_cpu(
    x: np.ndarray,
    ks: list[tuple[int, int, int]],
    backend: str,
    db_block: int,
    distances: bool,
    labels: np.ndarray | None = None,
) -> Iterator[KnnBlock]:
    search = _CpuSearch(x, backend, db_block, labels)
    workers = _workers()
    n = x.shape[0]

    def own_job(qs, qe, kb):
        kc = min(kb + _pad(kb), n - 1)
        return search.finish(qs, qe, *search.coarse_own(qs, qe, kc), kb, distances)

    pending: deque = deque()
    with ThreadPoolExecutor(workers) as pool:
        if backend == "torch":
            # Each worker multiplies its own block with single-threaded BLAS.
            with _blas_single_thread():
                for qs, qe, kb in ks:
                    pending.append(pool.submit(own_job, qs, qe, kb))
                    if len(pending) > 2 * workers:  # bounded look-ahead: bounded memory
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
        else:
            # faiss searches a block with all its threads, then the workers finish slices of it.
            # No overlap: faiss's OpenMP threads and ours competing for the cores made the
            # whole several times slower on a shared machine.
            for qs, qe, kb in ks:
                kc = min(kb + _pad(kb), n - 1)
                cand, coarse, worst = search.coarse_faiss(qs, qe, kc)
                cuts = np.linspace(0, qe - qs, min(workers, qe - qs) + 1).astype(int)
                parts = [
                    pool.submit(search.finish, qs + a, qs + z, cand[a:z], coarse[a:z], worst[a:z], kb, distances)
                    for a, z in zip(cuts[:-1], cuts[1:])
                    if z > a
                ]
                done = [f.result() for f in parts]
                yield KnnBlock(
                    qs,
                    qe,
                    None if done[0].distances is None else np.concatenate([p.distances for p in done]),
                    np.concatenate([p.indices for p in done]),
                    sum(p.exhaustive_queries for p in done),
                )


# --------------------------------------------------------------------------------------------
# Other devices (CUDA): torch


def _ref_sq_torch(q: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    diff = rows.double() - q.double().unsqueeze(1)
    return (diff * diff).sum(-1)


def _sorted_torch(d: torch.Tensor, idx: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    idx, order = torch.sort(idx, dim=1)
    d = torch.gather(d, 1, order)
    d, order = torch.sort(d, dim=1, stable=True)
    return d[:, :k], torch.gather(idx, 1, order)[:, :k]


def _iter_torch(x: torch.Tensor, ks: list[tuple[int, int, int]], db_block: int) -> Iterator[KnnBlock]:
    n, dim = x.shape
    xn = (x * x).sum(1)
    xn_max = float(xn.max())
    coef = (2 * dim + 24) * _U32
    neg2x = -2.0 * x
    for qs, qe, kb in ks:
        kc = min(kb + _pad(kb), n - 1)
        b = qe - qs
        best_v = best_i = None
        for s in range(0, n, db_block):
            e = min(n, s + db_block)
            v = torch.addmm(xn[s:e].unsqueeze(0), x[qs:qe], neg2x[s:e].T)
            lo, hi = max(qs, s), min(qe, e)
            if lo < hi:
                own = torch.arange(lo, hi, device=x.device)
                v[own - qs, own - s] = float("inf")
            vals, pos = torch.topk(v, min(kc, e - s), dim=1, largest=False, sorted=False)
            pos = pos + s
            if best_v is not None:
                vals = torch.cat([best_v, vals], 1)
                pos = torch.cat([best_i, pos], 1)
                vals, sel = torch.topk(vals, min(kc, vals.shape[1]), dim=1, largest=False, sorted=False)
                pos = torch.gather(pos, 1, sel)
            best_v, best_i = vals, pos
        worst = best_v.max(dim=1).values.double() + xn[qs:qe].double()
        d = torch.empty((b, kc), dtype=torch.float64, device=x.device)
        step = max(4, DEFAULT_BLOCK_BYTES // (8 * kc * dim))
        for s in range(0, b, step):
            e = min(b, s + step)
            rows = torch.index_select(x, 0, best_i[s:e].reshape(-1)).view(e - s, kc, dim)
            d[s:e] = _ref_sq_torch(x[qs + s : qs + e], rows)
        d, i = _sorted_torch(d, best_i, kb)
        if kc >= n - 1:
            bad = torch.zeros(0, dtype=torch.long, device=x.device)
        else:
            err = coef * (xn[qs:qe].double() + xn_max)
            bad = (~((worst - err) > d[:, kb - 1])).nonzero().flatten()
        if bad.numel():
            d[bad], i[bad] = _exhaustive_torch(x, bad + qs, kb)
        yield KnnBlock(qs, qe, d.sqrt().cpu().numpy(), i.cpu().numpy(), int(bad.numel()))


def _exhaustive_torch(x: torch.Tensor, qidx: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    n, dim = x.shape
    b = qidx.shape[0]
    chunk = max(1, DEFAULT_BLOCK_BYTES // (8 * dim * b))
    q = x[qidx]
    best_d = torch.empty((b, 0), dtype=torch.float64, device=x.device)
    best_i = torch.empty((b, 0), dtype=torch.long, device=x.device)
    rows_b = torch.arange(b, device=x.device)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        d = _ref_sq_torch(q, x[s:e].unsqueeze(0).expand(b, e - s, dim))
        own = (qidx >= s) & (qidx < e)
        d[rows_b[own], qidx[own] - s] = float("inf")
        idx = torch.arange(s, e, device=x.device).expand(b, e - s)
        d = torch.cat([best_d, d], 1)
        idx = torch.cat([best_i, idx], 1)
        d, order = torch.sort(d, dim=1, stable=True)
        best_d, best_i = d[:, :k], torch.gather(idx, 1, order[:, :k])
    return best_d, best_i


# --------------------------------------------------------------------------------------------


def iter_knn(
    x: torch.Tensor,
    k: int | np.ndarray,
    *,
    backend: str = "torch",
    block_size: int | None = None,
    db_block: int = DEFAULT_DB_BLOCK,
    distances: bool = True,
    engine: str | None = None,
    labels: np.ndarray | None = None,
) -> Iterator[KnnBlock]:
    """Exact kNN of every row of ``x`` (float32 [N, D], on its device), one query block at a time.

    ``k`` is an int, or one int per row (a block then gets the largest k of its rows, e.g. R for
    MAP@R); it is capped at N - 1. ``backend`` is ``"torch"`` (modbench's own blocked search) or
    ``"faiss"`` (already resolved). Blocks come in query order. Memory is
    O(workers x block_size x (db_block + k)). ``distances=False`` leaves ``KnnBlock.distances``
    None and saves computing them (the neighbours are the same). ``engine``: "numpy" (the CPU
    path) or "torch" (the path for other devices); by default from the device. The tests run the
    torch path on CPU tensors, so that its logic is checked on machines without a GPU.
    ``labels`` (with ``distances=False``): the caller needs only the labels of the neighbours, so
    near-tied neighbours that share a label are left in index order instead of being refined; the
    label sequence of every query is exactly that of the exact neighbours (CPU path).
    """
    if x.dim() != 2:
        raise ValueError(f"x must be [N, D], got shape {tuple(x.shape)}")
    if backend not in ("torch", "faiss"):
        raise ValueError(f"unknown backend {backend!r}")
    x = x.float().contiguous()
    n, _ = x.shape
    if n < 2:
        raise ValueError("kNN needs at least 2 rows")
    per_row = None if np.isscalar(k) else np.minimum(np.asarray(k, dtype=np.int64), n - 1)
    k_max = int(per_row.max()) if per_row is not None else int(min(int(k), n - 1))
    if k_max < 1:
        raise ValueError("k must be >= 1")
    db_block = -(-n // -(-n // max(1, db_block)))  # balanced chunks of at most db_block rows
    if block_size is not None:
        qb = max(1, int(block_size))
    else:
        qb = int(max(64, min(4096, DEFAULT_BLOCK_BYTES // (4 * (db_block + k_max + _pad(k_max))))))
        qb = min(qb, max(64, -(-n // _workers())))  # at least one block per worker
        if backend == "faiss":
            # faiss holds no distance block of ours: bigger query blocks, fewer calls (faiss
            # itself works through 4096 queries at a time).
            qb = max(qb, min(4096, (16 * 2**20) // (12 * (k_max + _pad(k_max) + 1))))
    ks = []
    for qs in range(0, n, qb):
        qe = min(n, qs + qb)
        ks.append((qs, qe, k_max if per_row is None else max(1, int(per_row[qs:qe].max()))))
    if engine is None:
        engine = "numpy" if x.device.type == "cpu" else "torch"
    if engine == "numpy":
        yield from _iter_cpu(x.cpu().numpy(), ks, backend, db_block, distances, labels)
    else:
        if backend != "torch":
            raise ValueError("the faiss backend runs on the CPU only")
        yield from _iter_torch(x, ks, db_block)


@dataclass
class KnnResult:
    """Neighbours of every row: ``distances`` (Euclidean, float64) and ``indices`` (int64), [N, k]."""

    distances: np.ndarray
    indices: np.ndarray
    backend: str
    exhaustive_queries: int


def knn(
    embeddings,
    k: int,
    *,
    backend: str = "torch",
    device=None,
    block_size: int | None = None,
) -> KnnResult:
    """The ``min(k, N-1)`` nearest other rows of every row of ``embeddings`` (no normalisation here).

    Exact: see the module docstring for the method and the tie rule (lower index first).
    ``backend``: "torch", "faiss" or "auto". Returns numpy arrays of shape [N, min(k, N-1)].
    """
    x = torch.as_tensor(embeddings)
    dev = torch.device(device) if device is not None else x.device
    x = x.to(dev).float()
    be = resolve_backend(backend, dev)
    ds, is_, ex = [], [], 0
    for blk in iter_knn(x, k, backend=be, block_size=block_size):
        ds.append(blk.distances)
        is_.append(blk.indices)
        ex += blk.exhaustive_queries
    return KnnResult(np.concatenate(ds), np.concatenate(is_), be, ex)
