"""Pure metric functions (DESIGN.md section 2): no printing, no file access.

- ``names``: metric names, ``DEFAULT_METRICS``, ``parse_metric_names``, ``MetricError``;
- ``knn_search``: exact, blocked k-nearest-neighbour search (torch or faiss), query excluded by index;
- ``clustering``: k-means (scikit-learn, k-means++, all points, fixed seed);
- ``retrieval``: Recall@k, p@1, MAP@R, macro-F1 of 1-NN from neighbour lists;
- ``clustering_metrics``: NMI and pairwise F1 of a partition;
- ``compute``: ``compute_metrics``, all of them on one set of embeddings.
"""

from modbench.metrics.clustering import KMeansResult, kmeans
from modbench.metrics.clustering_metrics import contingency, nmi, pairwise_f1
from modbench.metrics.compute import MetricResult, compute_metrics
from modbench.metrics.knn_search import KnnResult, faiss_available, knn
from modbench.metrics.names import DEFAULT_METRICS, MetricError, parse_metric_names
from modbench.metrics.retrieval import macro_f1_1nn, map_at_r, precision_at_1, recall_at_k

__all__ = [
    "DEFAULT_METRICS",
    "KMeansResult",
    "KnnResult",
    "MetricError",
    "MetricResult",
    "compute_metrics",
    "contingency",
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
