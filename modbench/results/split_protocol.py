"""Which protocol a run was measured under, in words, from its resolved configuration and its
``result.json`` (torch-free): closed-set (the test split holds the training classes) or
class-disjoint (the test classes are never trained on), with the class count of every side."""

from __future__ import annotations

from typing import Any

CLOSED = "closed"
CLASS_DISJOINT = "class-disjoint"


def protocol_mode(config: dict[str, Any] | None, result: dict[str, Any] | None = None) -> str:
    """``closed`` or ``class-disjoint``: what the run's data record says (a dataset whose loader
    has a class-disjoint split of its own records it there), else its configuration's
    ``dataset.split.mode``."""
    recorded = ((((result or {}).get("data") or {}).get("info")) or {}).get("protocol")
    if recorded in (CLOSED, CLASS_DISJOINT):
        return recorded
    split = ((config or {}).get("dataset") or {}).get("split")
    if isinstance(split, str):
        return split
    return (split or {}).get("mode", CLOSED) if isinstance(split, dict) else CLOSED


def _count(ranges: Any) -> int | None:
    """Classes in ``[[first, last], ...]`` runs of ids (the retrieval loaders' ``class_ids``)."""
    try:
        return sum(int(last) - int(first) + 1 for first, last in ranges)
    except (TypeError, ValueError):
        return None


def class_counts(result: dict[str, Any] | None) -> dict[str, int] | None:
    """{"train", "val", "test"}: classes on each side of a class-disjoint run, from its data
    record: ``class_counts`` (dataset.split: class-disjoint) or the ``class_ids`` runs of a
    loader whose split is class-disjoint of its own (CUB-200-2011, Cars196, SOP, In-Shop)."""
    info = (((result or {}).get("data") or {}).get("info")) or {}
    counts = info.get("class_counts")
    if isinstance(counts, dict):
        return counts
    ids = info.get("class_ids")
    if isinstance(ids, dict):
        counted = {side: _count(ids.get(side)) for side in ("train", "val", "test")}
        if all(isinstance(n, int) for n in counted.values()):
            return counted
    return None


def protocol_text(config: dict[str, Any] | None, result: dict[str, Any] | None = None) -> str:
    """``closed-set`` or ``class-disjoint (train 3, validation 2, test 5 classes)``."""
    if protocol_mode(config, result) != CLASS_DISJOINT:
        return "closed-set"
    counts = class_counts(result)
    if not counts:
        return "class-disjoint"
    return (f"class-disjoint (train {counts.get('train')}, validation {counts.get('val')}, "
            f"test {counts.get('test')} classes)")


def protocol_note(texts: list[str]) -> str:
    """The line every table of a suite carries: which protocol its numbers were measured under."""
    if not texts:
        return ""
    shown = " / ".join(dict.fromkeys(texts)) + (" (differs between runs)" if len(set(texts)) > 1 else "")
    if all(t.startswith("closed-set") for t in texts):
        return f"Protocol: {shown}: the test split holds the training classes."
    return (f"Protocol: {shown}: the test classes are never seen in training; validation classes are "
            "disjoint from both.")
