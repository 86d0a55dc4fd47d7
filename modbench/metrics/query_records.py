"""Per-query records: what each test query contributed to the metrics of one run.

A paired analysis (the same test queries for every loss and seed) needs each query's outcome, not
only the means. ``compute_metrics(..., queries=True)`` fills these arrays from the same kNN search
and the same k-means partition as the metrics, so that each metric is their mean exactly:

========== ======== ====== ==================================================================
name       dtype    shape  meaning
========== ======== ====== ==================================================================
``label``  int64    [N]    the query's label, in the test split's order
``ks``     int64    [K]    the k of ``hit``: the Recall@k the run measures, and 1, 2, 4, 8
                           where k < N (sorted, distinct)
``hit``    bool     [N, K] a sample of the query's label among its ks[j] nearest others;
                           ``hit[:, j].mean()`` is Recall@ks[j]
``ap_r``   float64  [N]    AP@R of the query (NaN for a query whose label has no other
                           sample); ``ap_r.mean()`` is MAP@R
``nn_label`` int64  [N]    the label of the nearest other sample;
                           ``(nn_label == label).mean()`` is P@1 (= Recall@1), and macro-F1
                           is the macro F1 of ``nn_label`` against ``label``
``cluster`` int64   [N]    the query's k-means cluster id: NMI and F1 (pairs) of
                           ``(label, cluster)`` are the run's NMI and F1
========== ======== ====== ==================================================================

Numpy only (no torch): the cache reads and checks these records without importing torch.
"""

from __future__ import annotations

import numpy as np

# name -> (numpy dtype, number of dimensions); the contract of ``queries.npz`` in a run folder.
FIELDS: dict[str, tuple[np.dtype, int]] = {
    "label": (np.dtype(np.int64), 1),
    "ks": (np.dtype(np.int64), 1),
    "hit": (np.dtype(np.bool_), 2),
    "ap_r": (np.dtype(np.float64), 1),
    "nn_label": (np.dtype(np.int64), 1),
    "cluster": (np.dtype(np.int64), 1),
}
BASE_KS = (1, 2, 4, 8)


def record_ks(measured: list[int] | tuple[int, ...], n: int) -> np.ndarray:
    """The k of the ``hit`` columns: ``measured`` (the Recall@k of the run) and 1, 2, 4, 8,
    each below ``n`` (a query has n - 1 others), sorted."""
    return np.array(sorted({int(k) for k in (*measured, *BASE_KS) if 1 <= int(k) < n}), dtype=np.int64)


def problem(records: dict[str, np.ndarray]) -> str | None:
    """Why ``records`` are not per-query records of the format above (one phrase), or None."""
    missing = [name for name in FIELDS if name not in records]
    if missing:
        return f"lacks the arrays {', '.join(missing)}"
    extra = sorted(set(records) - set(FIELDS))
    if extra:
        return f"holds unexpected arrays {', '.join(extra)}"
    for name, (dtype, ndim) in FIELDS.items():
        a = records[name]
        if not isinstance(a, np.ndarray) or a.dtype != dtype or a.ndim != ndim:
            got = f"{a.dtype} with {a.ndim} dimension(s)" if isinstance(a, np.ndarray) else type(a).__name__
            return f"array {name!r} must be {dtype} with {ndim} dimension(s), got {got}"
    n = records["label"].shape[0]
    k = records["ks"].shape[0]
    for name in ("ap_r", "nn_label", "cluster"):
        if records[name].shape[0] != n:
            return f"array {name!r} has {records[name].shape[0]} rows, 'label' {n}"
    if records["hit"].shape != (n, k):
        return f"array 'hit' has shape {records['hit'].shape}, expected ({n}, {k})"
    return None
