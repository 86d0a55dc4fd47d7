"""Formatting one table cell, shared by every renderer."""

from __future__ import annotations

from modbench.results.aggregate import Group

MISSING = "—"
SPREAD_NOTE = (
    "Cells: mean ± sample standard deviation (ddof=1, n−1 denominator) over seeds; "
    "Seeds: finished seeds (done/listed when some are missing or failed); "
    "(n=k) where fewer seeds have a value for that metric. Best mean of each column in bold."
)
ONE_SEED_NOTE = (
    "One seed per loss: no spread is shown, and differences cannot be told apart from "
    "seed-to-seed noise; list several seeds (`seeds: [0, 1, 2]` or `--seed 0 --seed 1 --seed 2`)."
)


def format_cell(group: Group, metric: str, digits: int = 3) -> str:
    cell = group.cell(metric)
    if cell is None:
        return "failed" if group.status == "failed" else MISSING
    text = f"{cell.mean:.{digits}f}"
    if cell.n > 1:
        text += f" ± {cell.std:.{digits}f}"
    if cell.n < group.n_done:
        text += f" (n={cell.n})"
    return text


def format_seeds(group: Group) -> str:
    """``3``, or ``2/3`` when one of three listed seeds is missing or failed."""
    if group.n_done == group.n_total:
        return str(group.n_done)
    return f"{group.n_done}/{group.n_total}"


def format_paper_value(value: float) -> str:
    """As the paper prints it: three decimals, more where the paper gives more (0.8291)."""
    text = repr(float(value))
    decimals = len(text.split(".", 1)[1]) if "." in text and "e" not in text else 3
    return f"{value:.{max(3, min(decimals, 6))}f}"


def best_groups(groups: list[Group], metric: str) -> set[int]:
    """Indices of the groups holding the best (highest) mean of ``metric``, ties included."""
    means = [(i, c.mean) for i, g in enumerate(groups) if (c := g.cell(metric)) is not None]
    if not means:
        return set()
    top = max(m for _, m in means)
    return {i for i, m in means if m == top}
