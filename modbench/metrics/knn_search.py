"""Exact k-nearest-neighbour search among the rows of one embedding matrix.

The neighbours of row ``i`` are the other rows (row ``i`` itself is excluded by its index, not by
its distance, so a duplicate of the query still counts as a neighbour), ordered by squared
Euclidean distance, equal distances broken by the lower index.

How it stays exact, memory-bounded and identical across backends:

1. *Coarse search* in float32, by blocks: the torch backend multiplies a block of queries with a
   chunk of the database at a time and keeps a running top-``kc`` (``kc = k + pad``), so memory is
   O(query_block x (db_block + kc)), never N x N; the faiss backend asks ``IndexFlatL2`` for the
   ``kc + 1`` nearest and drops the query's own index.
2. *Refinement*: the ``kc`` candidates get their distance recomputed in float64 as the sum of
   squared differences (the reference distance, the same code for every backend) and are sorted
   by (distance, index).
3. *Check*: a float32 distance is within ``err = (2D + 16) * 2**-24 * (|q|^2 + max |x|^2)`` of the
   reference one (a worst-case rounding bound for the float32 dot products). If the float32
   distance of the worst candidate, minus ``err``, is still above the refined k-th distance, no row
   outside the candidates can be among the k nearest. Otherwise (near-ties at the edge of the
   candidate list, many duplicates) the query is searched again exhaustively in float64.

So the result is the exact top-k of the float64 reference distance with the lower-index tie rule,
whatever the backend, the device, the block sizes or the thread count.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

_U32 = 2.0**-24  # unit roundoff of float32

# Bytes a block may use for its distance matrix; the default blocks stay near this budget.
DEFAULT_BLOCK_BYTES = 64 * 2**20
DEFAULT_DB_BLOCK = 8192


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


def _query_block(n: int, width: int, block_size: int | None) -> int:
    if block_size is not None:
        return max(1, int(block_size))
    return int(max(16, min(4096, DEFAULT_BLOCK_BYTES // (4 * max(1, width)))))


def _reference_sqdist(q: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The reference distance: float64 sum of squared differences, ``q`` [..., D] against ``x`` [..., D]."""
    diff = x.double() - q.double()
    return (diff * diff).sum(-1)


def _sort_by_distance_then_index(d: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows sorted by (distance, index): sort by index, then a stable sort by distance."""
    idx, order = torch.sort(idx, dim=1)
    d = torch.gather(d, 1, order)
    d, order = torch.sort(d, dim=1, stable=True)
    return d, torch.gather(idx, 1, order)


def _refine(x: torch.Tensor, qidx: torch.Tensor, cand: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference distances of the candidates ``cand`` [b, kc]; the first k by (distance, index)."""
    b, kc = cand.shape
    dim = x.shape[1]
    out_d = torch.empty((b, kc), dtype=torch.float64, device=x.device)
    step = max(1, DEFAULT_BLOCK_BYTES // (8 * max(1, kc * dim)))  # bound the [step, kc, D] float64 gather
    for s in range(0, b, step):
        e = min(b, s + step)
        out_d[s:e] = _reference_sqdist(x[qidx[s:e]].unsqueeze(1), x[cand[s:e]])
    d, i = _sort_by_distance_then_index(out_d, cand)
    return d[:, :k], i[:, :k]


def _exhaustive(x: torch.Tensor, qidx: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact float64 top-k for a few queries by the reference distance, over database chunks.

    Chunks are visited in index order and merged with a stable sort, so equal distances keep the
    lower index first. Used only for the queries that fail the check of the fast path.
    """
    n, dim = x.shape
    b = qidx.shape[0]
    chunk = max(1, DEFAULT_BLOCK_BYTES // (8 * dim * max(1, b)))
    q = x[qidx]
    best_d = torch.empty((b, 0), dtype=torch.float64, device=x.device)
    best_i = torch.empty((b, 0), dtype=torch.long, device=x.device)
    rows = torch.arange(b, device=x.device)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        d = _reference_sqdist(q.unsqueeze(1), x[s:e].unsqueeze(0))  # [b, e - s]
        own = (qidx >= s) & (qidx < e)
        d[rows[own], qidx[own] - s] = float("inf")  # the query itself, by index
        idx = torch.arange(s, e, device=x.device).expand(b, e - s)
        d = torch.cat([best_d, d], 1)
        idx = torch.cat([best_i, idx], 1)
        d, order = torch.sort(d, dim=1, stable=True)
        best_d, best_i = d[:, :k], torch.gather(idx, 1, order[:, :k])
    return best_d, best_i


def _coarse_torch(
    x: torch.Tensor, xn: torch.Tensor, qs: int, qe: int, kc: int, db_block: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 running top-kc of rows qs:qe; returns (candidate indices, float64 worst candidate distance)."""
    n = x.shape[0]
    q = x[qs:qe]
    best_v: torch.Tensor | None = None
    best_i: torch.Tensor | None = None
    for s in range(0, n, db_block):
        e = min(n, s + db_block)
        # |x|^2 - 2 q.x: the squared distance less |q|^2, which is constant along a row.
        v = torch.addmm(xn[s:e].unsqueeze(0), q, x[s:e].T, beta=1.0, alpha=-2.0)
        lo, hi = max(qs, s), min(qe, e)
        if lo < hi:  # the query itself, by index
            own = torch.arange(lo, hi, device=x.device)
            v[own - qs, own - s] = float("inf")
        kk = min(kc, e - s)
        v, pos = torch.topk(v, kk, dim=1, largest=False, sorted=False)
        pos = pos + s
        if best_v is not None:
            v = torch.cat([best_v, v], 1)
            pos = torch.cat([best_i, pos], 1)
            v, sel = torch.topk(v, min(kc, v.shape[1]), dim=1, largest=False, sorted=False)
            pos = torch.gather(pos, 1, sel)
        best_v, best_i = v, pos
    assert best_v is not None and best_i is not None
    worst = best_v.max(dim=1).values.double() + xn[qs:qe].double()
    return best_i, worst


def _coarse_faiss(index, x_np: np.ndarray, qs: int, qe: int, kc: int) -> tuple[torch.Tensor, torch.Tensor]:
    """faiss IndexFlatL2 top-(kc+1), the query's own index dropped (else the last one)."""
    n = x_np.shape[0]
    kq = min(kc + 1, n)
    dist, idx = index.search(x_np[qs:qe], kq)
    b = qe - qs
    qidx = np.arange(qs, qe)[:, None]
    keep = idx != qidx
    no_self = keep.all(axis=1)
    keep[no_self, kq - 1] = False  # self not returned (duplicates at distance 0): drop the farthest
    cand = idx[keep].reshape(b, kq - 1)
    worst = dist[:, -1].astype(np.float64)
    return torch.from_numpy(np.ascontiguousarray(cand)).long(), torch.from_numpy(worst)


@dataclass
class KnnBlock:
    """The k nearest neighbours of queries ``start:stop``: squared distances and indices, [b, k]."""

    start: int
    stop: int
    distances: torch.Tensor  # float64, ascending per row
    indices: torch.Tensor  # int64
    exhaustive_queries: int  # queries of this block that needed the float64 exhaustive search


def iter_knn(
    x: torch.Tensor,
    k: int | np.ndarray,
    *,
    backend: str = "torch",
    block_size: int | None = None,
    db_block: int = DEFAULT_DB_BLOCK,
) -> Iterator[KnnBlock]:
    """Exact kNN of every row of ``x`` (float32 [N, D], on its device), one query block at a time.

    ``k`` is an int, or one int per row (a block then gets the largest k of its rows, e.g. R for
    MAP@R); it is capped at N - 1. ``backend`` is ``"torch"`` or ``"faiss"`` (already resolved).
    Memory is O(block_size x (db_block + k)) for the torch backend.
    """
    if x.dim() != 2:
        raise ValueError(f"x must be [N, D], got shape {tuple(x.shape)}")
    x = x.float().contiguous()
    n, dim = x.shape
    if n < 2:
        raise ValueError("kNN needs at least 2 rows")
    per_row = None if np.isscalar(k) else np.minimum(np.asarray(k, dtype=np.int64), n - 1)
    k_max = int(per_row.max()) if per_row is not None else int(min(int(k), n - 1))
    if k_max < 1:
        raise ValueError("k must be >= 1")
    xn = (x * x).sum(1)  # float32 squared norms
    xn_max = float(xn.max().double())
    coef = (2 * dim + 16) * _U32
    qb = _query_block(n, min(db_block, n) + k_max + _pad(k_max), block_size)

    index = x_np = None
    if backend == "faiss":
        import faiss

        x_np = np.ascontiguousarray(x.cpu().numpy())
        index = faiss.IndexFlatL2(dim)
        index.add(x_np)
    elif backend != "torch":
        raise ValueError(f"unknown backend {backend!r}")

    for qs in range(0, n, qb):
        qe = min(n, qs + qb)
        kb = k_max if per_row is None else max(1, int(per_row[qs:qe].max()))
        kc = min(kb + _pad(kb), n - 1)
        if backend == "faiss":
            cand, worst = _coarse_faiss(index, x_np, qs, qe, kc)
            cand, worst = cand.to(x.device), worst.to(x.device)
        else:
            cand, worst = _coarse_torch(x, xn, qs, qe, kc, db_block)
        qidx = torch.arange(qs, qe, device=x.device)
        d, i = _refine(x, qidx, cand, kb)
        if kc >= n - 1:
            ok = torch.ones(qe - qs, dtype=torch.bool, device=x.device)  # every other row is a candidate
        else:
            err = coef * (xn[qs:qe].double() + xn_max) + 1e-300
            ok = (worst - err) > d[:, kb - 1]
        bad = (~ok).nonzero().flatten()
        if bad.numel():
            d_bad, i_bad = _exhaustive(x, qidx[bad], kb)
            d[bad], i[bad] = d_bad, i_bad
        yield KnnBlock(qs, qe, d, i, int(bad.numel()))


@dataclass
class KnnResult:
    """Neighbours of every row: ``distances`` (squared Euclidean, float64) and ``indices``, [N, k]."""

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
        ds.append(blk.distances.cpu().numpy())
        is_.append(blk.indices.cpu().numpy())
        ex += blk.exhaustive_queries
    return KnnResult(np.concatenate(ds), np.concatenate(is_), be, ex)
