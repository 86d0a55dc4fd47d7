"""Nearest neighbours of queries among a separate gallery (query/gallery test splits, In-Shop).

The neighbours of query ``i`` are the gallery rows ordered by Euclidean distance, equal distances
broken by the lower gallery index; no query is ever a neighbour (the query is not in the gallery,
so nothing is excluded).

Why by hand: ``knn_search`` searches the rows of one matrix among themselves (the query excluded
by its index); a gallery is another matrix. Neither faiss nor scikit-learn promises the
lower-index rule for ties. The search here is simple rather than fast: for a block of queries,
the squared distances to every gallery row in float64 (``|q|^2 + |g|^2 - 2 q.g`` of the float32
embeddings: the products are exact in float64, the sums rounded to about 1e-16 relative), then a
stable sort of each row (equal float64 distances keep the gallery order). Memory: one block of
``block x G`` float64 distances (``DEFAULT_BLOCK_BYTES``), never ``N_query x G`` at once. So the
order is exact except between distances that differ by less than float64 rounding (where the
within-set search of ``knn_search`` is exact to the bit); the In-Shop test split (14,218 queries,
12,612 gallery images) is about 1.4 x 10^8 distances, seconds on a CPU.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from modbench.metrics.knn_search import KnnBlock

DEFAULT_BLOCK_BYTES = 32 * 2**20


def r_per_query(query_labels: np.ndarray, gallery_labels: np.ndarray) -> np.ndarray:
    """R of each query: the number of gallery samples with its label (MAP@R's R)."""
    values, counts = np.unique(np.asarray(gallery_labels), return_counts=True)
    count = dict(zip(values.tolist(), counts.tolist()))
    return np.array([count.get(int(c), 0) for c in np.asarray(query_labels)], dtype=np.int64)


def iter_gallery_knn(queries: torch.Tensor, gallery: torch.Tensor, k: int | np.ndarray, *,
                     block_size: int | None = None) -> Iterator[KnnBlock]:
    """The ``k`` nearest gallery rows of each query (float32 [Nq, D] and [G, D], one device), one
    query block at a time, as ``KnnBlock``s (indices into ``gallery``, distances not kept).
    ``k``: an int or one per query (a block gets its largest), capped at G."""
    if queries.dim() != 2 or gallery.dim() != 2 or queries.shape[1] != gallery.shape[1]:
        raise ValueError(f"queries and gallery must be [N, D] with one D, got {tuple(queries.shape)} "
                         f"and {tuple(gallery.shape)}")
    n_q, n_g = queries.shape[0], gallery.shape[0]
    if n_g < 1:
        raise ValueError("a gallery search needs at least 1 gallery row")
    per_row = None if np.isscalar(k) else np.minimum(np.asarray(k, dtype=np.int64), n_g)
    g64 = gallery.double()
    g_sq = (g64 * g64).sum(1)
    qb = int(block_size) if block_size is not None else max(1, DEFAULT_BLOCK_BYTES // (8 * n_g))
    for qs in range(0, n_q, qb):
        qe = min(n_q, qs + qb)
        kk = int(min(int(k), n_g)) if per_row is None else max(1, int(per_row[qs:qe].max()))
        q64 = queries[qs:qe].double()
        d = (q64 * q64).sum(1, keepdim=True) + g_sq.unsqueeze(0) - 2.0 * (q64 @ g64.T)
        order = torch.sort(d, dim=1, stable=True).indices[:, :kk]
        yield KnnBlock(qs, qe, None, order.cpu().numpy().astype(np.int64), 0, qe - qs)
