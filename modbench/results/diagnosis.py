"""Why a loss loses, from its runs' ``history.json``: one line per loss setting whose last
training epoch shows a known cause, for the notes under its table.

The engine records, per epoch, ``low_weight_share`` (the share of training samples whose loss
weight is below ``LOW_WEIGHT`` = 1e-3, for losses that weight their samples: ``improved``,
``improved-sigmoid``, ``focal``) and ``train_accuracy`` (of a softmax-family loss's classifier
on the training samples as trained on). Two causes are named:

- most training samples (over ``LOW_SHARE``) weighted below 1e-3: the loss learns from few of
  them (equation (4) of the paper does this to misclassified samples: docs/losses.md);
- a classifier's training accuracy at least ``ACCURACY_GAP`` below the best of the section: the
  loss does not fit even its training data.

Values are the last epoch's of each finished run, averaged over seeds. Pure: the caller gives
``history_of(run key) -> list of epoch records``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

from modbench.results.aggregate import Group

LOW_WEIGHT = 1e-3  # the engine's threshold (engine/loop.py; not imported: it imports torch)
LOW_SHARE = 0.5  # "most" training samples
ACCURACY_GAP = 0.2  # training accuracy this far below the best classifier's of the section
WEIGHT_DOC = "docs/losses.md, \"Two readings of the paper's loss\""
ACCURACY_DOC = "docs/reporting.md, \"Why a loss loses\""


def _last(history: list[dict[str, Any]], name: str) -> float | None:
    for record in reversed(history):
        value = record.get(name) if isinstance(record, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def _mean_last(group: Group, name: str, history_of) -> tuple[float, int] | None:
    """(mean over seeds of the last recorded ``name``, number of seeds) or None."""
    values = [v for r in group.done if (v := _last(history_of(r.key), name)) is not None]
    return (statistics.fmean(values), len(values)) if values else None


def _seeds(n: int) -> str:
    return f"{n} seed{'' if n == 1 else 's'}"


def diagnose(groups: list[Group], history_of: Callable[[str], list[dict[str, Any]]]) -> list[str]:
    """The lines for ``groups`` (one section of a table), in the groups' order."""
    accuracy = {i: m for i, g in enumerate(groups) if (m := _mean_last(g, "train_accuracy", history_of))}
    best = max(accuracy.items(), key=lambda item: item[1][0], default=None)
    lines = []
    for i, group in enumerate(groups):
        causes, docs = [], []
        low = _mean_last(group, "low_weight_share", history_of)
        if low is not None and low[0] > LOW_SHARE:
            causes.append(
                f"in its last training epoch {100 * low[0]:.0f}% of the training samples had a loss weight "
                f"below 1e-3 (mean over {_seeds(low[1])})"
            )
            docs.append(WEIGHT_DOC)
        if i in accuracy and best is not None and best[0] != i and best[1][0] - accuracy[i][0] >= ACCURACY_GAP:
            acc, n = accuracy[i]
            causes.append(
                f"its classifier's training accuracy in the last epoch is {acc:.2f} (mean over {_seeds(n)}), "
                f"against {best[1][0]:.2f} for '{groups[best[0]].label}'"
            )
            docs.append(ACCURACY_DOC)
        if causes:
            lines.append(f"Why '{group.label}' may score lower: " + "; and ".join(causes)
                         + "; see " + " and ".join(dict.fromkeys(docs)) + ".")
    return lines
