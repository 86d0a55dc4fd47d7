"""Cross-check with pytorch-metric-learning's AccuracyCalculator (Musgrave et al. 2020).

Conventions, and where they differ from modbench:
- PML's ``get_accuracy(query, labels)`` with no reference set searches the embeddings against
  themselves (``ref_includes_query=True``), asks its kNN for k+1 neighbours and removes the query
  by its index (else the farthest), like modbench. Its default kNN is faiss, an optional extra
  that CI lacks, so the kNN here is PML's own ``CustomKNN(LpDistance())`` (exact, torch): the
  test runs everywhere. ``k="max_bin_count"`` makes its list R long,
  as MAP@R needs; its default ``k=None`` would rank all N-1 other samples per query.
- PML ranks by the Euclidean distance of the embeddings as given (``LpDistance`` with
  ``normalize_embeddings=False``), so we hand it a normalised copy. Equal distances are ordered
  however ``torch.topk`` returns them;
  modbench breaks them by the lower index. The data here has no ties, so the lists agree.
- A query whose label has no other sample ("lone" label) is silently left out of PML's averages;
  modbench refuses to print a number (MetricError) or gives NaN with strict=False. Every label
  here has at least 2 samples, so both average over the same queries.
- PML's NMI runs faiss k-means by default (random initialisation, 20 iterations, and faiss
  subsamples to 256 points per centroid); modbench runs scikit-learn k-means++ on all points.
  So NMI is compared given the same partition, passed to PML through ``kmeans_func``; both use
  scikit-learn's NMI with arithmetic averaging.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pytorch_metric_learning.distances import LpDistance
from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
from pytorch_metric_learning.utils.inference import CustomKNN

from modbench.metrics import compute_metrics, kmeans


def _exact_knn():
    """PML's own exact kNN (no faiss): Euclidean distance of the embeddings as given."""
    return CustomKNN(LpDistance(normalize_embeddings=False, p=2, power=1))


def _normalised(x):
    return torch.nn.functional.normalize(torch.from_numpy(x), dim=1).numpy()


@pytest.mark.parametrize("n,d,c,seed", [(300, 2, 4, 0), (500, 32, 10, 1), (200, 512, 5, 2)])
def test_precision_at_1_and_map_at_r_equal_pml(n, d, c, seed):
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.arange(c), np.arange(c), rng.integers(0, c, n - 2 * c)])
    x = (rng.normal(size=(c, d))[y] + rng.normal(size=(n, d))).astype(np.float32)
    ours = compute_metrics(x, y, ["p@1", "map@r"], backend="torch").values
    calc = AccuracyCalculator(
        include=("precision_at_1", "mean_average_precision_at_r"),
        k="max_bin_count",
        device=torch.device("cpu"),
        knn_func=_exact_knn(),
    )
    theirs = calc.get_accuracy(torch.from_numpy(_normalised(x)), torch.from_numpy(y))
    assert ours["p@1"] == pytest.approx(theirs["precision_at_1"], abs=1e-12)
    assert ours["map@r"] == pytest.approx(theirs["mean_average_precision_at_r"], abs=1e-9)


def test_nmi_equals_pml_given_the_same_partition():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 7, 400)
    x = (rng.normal(size=(7, 16))[y] + 1.5 * rng.normal(size=(400, 16))).astype(np.float32)
    ours = compute_metrics(x, y, ["nmi"], kmeans_seed=4)
    clusters = kmeans(_normalised(x), 7, seed=4).labels

    def same_partition(query, num_clusters):
        assert num_clusters == 7
        return torch.from_numpy(clusters)

    calc = AccuracyCalculator(include=("NMI",), kmeans_func=same_partition, knn_func=_exact_knn(), device=torch.device("cpu"))
    theirs = calc.get_accuracy(torch.from_numpy(_normalised(x)), torch.from_numpy(y))
    assert ours.values["nmi"] == pytest.approx(theirs["NMI"], abs=1e-12)
