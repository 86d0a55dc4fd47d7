"""Metric names: the defaults, parsing ``--metrics`` text, and the error for undefined metrics."""

from __future__ import annotations

import re
from collections.abc import Iterable

from modbench.errors import UserError

DEFAULT_METRICS: tuple[str, ...] = (
    "nmi",
    "f1",
    "recall@1",
    "recall@2",
    "recall@4",
    "recall@8",
    "macro_f1",
    "map@r",
    "p@1",
)

# Names other than recall@K, which takes any K >= 1.
FIXED_NAMES: tuple[str, ...] = ("nmi", "f1", "macro_f1", "map@r", "p@1")
CLUSTERING_METRICS = frozenset({"nmi", "f1"})

_RECALL = re.compile(r"^recall@(\d+)$")


class MetricError(UserError):
    """A metric that cannot be computed on this input, or an unknown metric name (exit code 2)."""


def recall_k(name: str) -> int | None:
    """``k`` for a name ``recall@k``, else None."""
    m = _RECALL.match(name)
    return int(m.group(1)) if m else None


def _valid_choices() -> str:
    return ", ".join((*FIXED_NAMES, "recall@K (any K >= 1)"))


def parse_metric_names(text_or_list: str | Iterable[str]) -> list[str]:
    """``"nmi,f1,recall@3"`` (or a list of names) -> ``["nmi", "f1", "recall@3"]``.

    Names are stripped and lower-cased; duplicates are dropped (first one kept). An unknown name,
    ``recall@0`` or an empty list raises :class:`MetricError` naming the valid choices.
    """
    if isinstance(text_or_list, str):
        parts = text_or_list.split(",")
    else:
        parts = list(text_or_list)
    names: list[str] = []
    for raw in parts:
        if not isinstance(raw, str):
            raise MetricError(f"metric names must be strings, got {raw!r} (choices: {_valid_choices()})")
        name = raw.strip().lower()
        if not name:
            continue
        k = recall_k(name)
        if k is not None:
            if k < 1:
                raise MetricError(f"unknown metric '{raw.strip()}': recall@K needs K >= 1 (choices: {_valid_choices()})")
            name = f"recall@{k}"  # recall@08 -> recall@8
        elif name not in FIXED_NAMES:
            raise MetricError(f"unknown metric '{raw.strip()}' (choices: {_valid_choices()})")
        if name not in names:
            names.append(name)
    if not names:
        raise MetricError(f"no metric named (choices: {_valid_choices()})")
    return names


def too_few_samples(name: str, n_samples: int) -> str | None:
    """Why ``n_samples`` samples cannot give metric ``name`` (``recall@k`` with k >= N), or None."""
    k = recall_k(name)
    if k is not None and k >= n_samples:
        return (
            f"metric '{name}' needs k < N, but the test set has N = {n_samples} samples "
            f"(a query has {max(n_samples - 1, 0)} others); choose recall@K with K <= {max(n_samples - 1, 1)}"
        )
    return None


def check_metric_names(names: str | Iterable[str], n_samples: int) -> list[str]:
    """``parse_metric_names(names)``, and refuse what ``n_samples`` test samples cannot give.

    ``recall@k`` with ``k >= n_samples`` is refused (MetricError, exit code 2): a query has only
    ``n_samples - 1`` other samples, so such a k would silently mean "all of them". The engine
    calls this with the size of the test split before it trains anything; ``compute_metrics``
    refuses the same (or, with ``strict=False``, gives NaN and the reason).
    """
    parsed = parse_metric_names(names)
    for name in parsed:
        reason = too_few_samples(name, n_samples)
        if reason is not None:
            raise MetricError(reason)
    return parsed
