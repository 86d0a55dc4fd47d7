"""Pure metric functions (definitions: docs/metrics.md): no printing, no file access.

- ``names``: metric names, ``DEFAULT_METRICS``, ``parse_metric_names``, ``MetricError``;
- ``knn_search``: exact k-nearest-neighbour search among the rows (duplicates merged), query
  excluded by index; ``knn_points``: the one blocked search among distinct points it runs on;
- ``inputs``: checks of the embeddings and labels, scale-robust L2 normalisation;
- ``kmeans_clustering``: k-means (scikit-learn, k-means++, all points, fixed seed);
- ``retrieval``: Recall@k, p@1, MAP@R, macro-F1 of 1-NN from neighbour lists;
- ``clustering_scores``: NMI and pairwise F1 of a partition against the labels;
- ``compute``: ``compute_metrics``, all of them on one set of embeddings (and, on request, the
  per-query records of ``query_records``).
"""

import importlib

# Imported on first use (PEP 562), so that ``modbench.metrics.names`` (metric names, no torch)
# can be read by the suite loader and ``modbench report`` without importing torch.
_WHERE = {
    "KMeansResult": "kmeans_clustering", "kmeans": "kmeans_clustering",
    "nmi": "clustering_scores", "pairwise_f1": "clustering_scores",
    "MetricResult": "compute", "compute_metrics": "compute",
    "KnnResult": "knn_search", "faiss_available": "knn_search", "knn": "knn_search",
    "DEFAULT_METRICS": "names", "MetricError": "names", "parse_metric_names": "names",
    "check_metric_names": "names",
    "macro_f1_1nn": "retrieval", "map_at_r": "retrieval", "precision_at_1": "retrieval",
    "recall_at_k": "retrieval",
}


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'modbench.metrics' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"modbench.metrics.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])



__all__ = [
    "DEFAULT_METRICS",
    "KMeansResult",
    "KnnResult",
    "MetricError",
    "MetricResult",
    "check_metric_names",
    "compute_metrics",
    "faiss_available",
    "kmeans",
    "knn",
    "macro_f1_1nn",
    "map_at_r",
    "nmi",
    "pairwise_f1",
    "parse_metric_names",
    "precision_at_1",
    "recall_at_k",
]
