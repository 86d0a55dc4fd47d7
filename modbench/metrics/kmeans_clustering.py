"""k-means on all the embeddings, with scikit-learn (k-means++ initialisation, fixed seed).

No subsampling: every point takes part in the initialisation and in every Lloyd iteration.
The settings that could change the partition are returned with it, so that a result can record them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

# Imports inside functions here: scikit-learn and threadpoolctl are imported when k-means runs.

KMEANS_MAX_ITER = 300  # scikit-learn's default
KMEANS_TOL = 1e-4  # scikit-learn's default (relative to the mean variance of the data)

_BLAS_CONTROLLER = None


def blas_single_thread():
    """A context in which BLAS libraries run one thread (threadpoolctl); the library scan, which
    costs ~20 ms, happens once."""
    global _BLAS_CONTROLLER
    from threadpoolctl import ThreadpoolController

    if _BLAS_CONTROLLER is None:
        _BLAS_CONTROLLER = ThreadpoolController()
    return _BLAS_CONTROLLER.limit(limits=1, user_api="blas")


@dataclass
class KMeansResult:
    """Cluster id of every point, and what produced it."""

    labels: np.ndarray
    n_iter: int
    inertia: float
    settings: dict
    warnings: list[str] = field(default_factory=list)


def _points(embeddings, n_clusters: int) -> np.ndarray:
    """The embeddings as a float32/float64 [N, D] array, with 1 <= n_clusters <= N."""
    x = np.asarray(embeddings)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float32)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be [N, D], got shape {x.shape}")
    if not 1 <= n_clusters <= x.shape[0]:
        raise ValueError(f"n_clusters must be in 1..N={x.shape[0]}, got {n_clusters}")
    return x


def _settings(n_clusters: int, n_points: int, seed: int, n_init: int, max_iter: int, tol: float) -> dict:
    """What could change the partition, recorded with it."""
    import sklearn

    return {
        "implementation": f"sklearn.cluster.KMeans {sklearn.__version__}",
        "algorithm": "lloyd",
        "init": "k-means++",
        "seed": int(seed),
        "n_init": int(n_init),
        "max_iter": int(max_iter),
        "tol": float(tol),
        "n_clusters": int(n_clusters),
        "points": int(n_points),
        "blas_threads": 1,
    }


def kmeans(
    embeddings,
    n_clusters: int,
    *,
    seed: int = 0,
    n_init: int = 10,
    max_iter: int = KMEANS_MAX_ITER,
    tol: float = KMEANS_TOL,
) -> KMeansResult:
    """``sklearn.cluster.KMeans`` (Lloyd, k-means++ init) on all rows of ``embeddings`` [N, D].

    Deterministic for a given seed. Warnings scikit-learn raises (e.g. fewer distinct points than
    clusters) are captured and returned, not printed.
    """
    from sklearn.cluster import KMeans

    x = _points(embeddings, n_clusters)
    km = KMeans(n_clusters=n_clusters, init="k-means++", n_init=n_init, max_iter=max_iter, tol=tol, random_state=seed, algorithm="lloyd")
    # BLAS at one thread, OpenMP (scikit-learn's Lloyd loop) at its default: on the shared 2-core
    # benchmark machine, multi-threaded BLAS in the k-means++ initialisation next to the OpenMP
    # threads made a 10,000 x 512 fit take 22-64 s instead of 2 s.
    with warnings.catch_warnings(record=True) as caught, blas_single_thread():
        warnings.simplefilter("always")
        labels = km.fit_predict(x)
    return KMeansResult(
        labels=labels.astype(np.int64),
        n_iter=int(km.n_iter_),
        inertia=float(km.inertia_),
        settings=_settings(n_clusters, x.shape[0], seed, n_init, max_iter, tol),
        warnings=sorted({str(w.message).splitlines()[0] for w in caught}),
    )
