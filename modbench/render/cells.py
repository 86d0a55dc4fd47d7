"""Formatting one table cell, shared by every renderer."""

from __future__ import annotations

from modbench.results.aggregate import Cell, Group

MISSING = "—"


def format_cell(group: Group, metric: str, digits: int = 3) -> str:
    cell = group.cell(metric)
    if cell is None:
        return "failed" if group.status == "failed" else MISSING
    text = f"{cell.mean:.{digits}f}"
    if cell.n > 1:
        text += f" ± {cell.std:.{digits}f} (n={cell.n})"
    return text


def best_groups(groups: list[Group], metric: str) -> set[int]:
    """Indices of the groups holding the best (highest) mean of ``metric``, ties included."""
    means = [(i, c.mean) for i, g in enumerate(groups) if (c := g.cell(metric)) is not None]
    if not means:
        return set()
    top = max(m for _, m in means)
    return {i for i, m in means if m == top}
