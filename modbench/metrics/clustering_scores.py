"""Clustering metrics of a partition against the labels: NMI and pairwise F1.

Both take two label vectors of the same length (class labels, cluster ids); neither looks at the
embeddings, so they can be checked on any given partition.
"""

from __future__ import annotations

import numpy as np

from modbench.metrics.names import MetricError

# Imports inside functions here: scikit-learn is imported when a score is computed: metric names
# are read without it.


def _pair(labels, clusters) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels).reshape(-1)
    clusters = np.asarray(clusters).reshape(-1)
    if labels.shape != clusters.shape:
        raise ValueError(f"labels and clusters differ in length: {labels.shape[0]} vs {clusters.shape[0]}")
    return labels, clusters


def nmi(labels, clusters) -> float:
    """Normalised mutual information with arithmetic averaging (scikit-learn's default).

    Undefined (MetricError) with fewer than 2 samples or a single label: both entropies can then
    be zero and the ratio is 0/0 (scikit-learn would return 1.0).
    """
    from sklearn.metrics import normalized_mutual_info_score

    labels, clusters = _pair(labels, clusters)
    if labels.shape[0] < 2:
        raise MetricError(f"nmi is undefined: it needs at least 2 samples, got {labels.shape[0]}")
    if np.unique(labels).size < 2:
        raise MetricError("nmi is undefined: all samples have one label, so the label entropy is 0")
    return float(normalized_mutual_info_score(labels, clusters, average_method="arithmetic"))


def pairwise_f1(labels, clusters) -> float:
    """Pairwise clustering F1, from scikit-learn's ``pair_confusion_matrix`` (which counts pairs
    from the contingency table, never from N^2 pairs).

    TP = pairs with the same label and the same cluster; precision = TP / pairs in the same
    cluster; recall = TP / pairs with the same label; F1 = 2PR / (P + R) = 2TP / (2TP + FP + FN),
    0 when TP = 0. Undefined (MetricError) when no two samples share a label (recall is 0/0).
    """
    from sklearn.metrics.cluster import pair_confusion_matrix

    labels, clusters = _pair(labels, clusters)
    if labels.size < 2:
        raise MetricError("f1 is undefined: no two samples share a label, so there are no same-label pairs")
    # [[TN, FP], [FN, TP]], each pair counted twice (ordered pairs): the factor cancels below.
    (_, fp), (fn, tp) = pair_confusion_matrix(labels, clusters).tolist()
    if tp + fn == 0:
        raise MetricError("f1 is undefined: no two samples share a label, so there are no same-label pairs")
    if tp == 0:
        return 0.0
    return float(2 * tp / (2 * tp + fp + fn))
