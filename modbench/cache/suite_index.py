"""Which suites asked for each run: ``<cache>/suites/<id>.json``, one file per suite (its name
and file), mapping run keys to the loss label the suite gives them.

A run's folder holds its configuration, not a suite name (the same run can belong to several
suites), and ``report`` finds the built-in suites' runs by matching configurations. A user's
suite file is not known to ``report`` or ``cache list`` unless given with ``--suite``; this
index lets them show its name and labels (``AM-softmax``, not ``./my_losses.py:NormFace``).

Each file is rewritten whole (read, merged, ``atomic_write_json``), so a reader never sees half
of one. Two commands of the same suite finishing at once may each write their own merge; the
later one wins, and the runs it did not know are named again the next time they are asked for.
A read-only cache is left as it is: the index only names things.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from modbench.cache.atomic import CacheWriteError, atomic_write_json
from modbench.cache.store import CorruptFile, _load_json

FOLDER = "suites"


def _path(root: Path, name: str, file: str | None) -> Path:
    digest = hashlib.sha256(f"{name}\0{file or ''}".encode()).hexdigest()[:20]
    return Path(root) / FOLDER / f"{digest}.json"


def _read(path: Path) -> dict | None:
    """The index file at ``path``; None when it is missing, not a regular file (a FIFO never
    blocks the reader) or not what this module writes."""
    try:
        data = _load_json(path)
    except CorruptFile:
        return None
    ok = isinstance(data, dict) and isinstance(data.get("name"), str) and isinstance(data.get("runs"), dict)
    return data if ok else None


def remember_suite(root: Path, name: str, file: str | None, runs: dict[str, str]) -> None:
    """Record that suite ``name`` (from ``file``, None for a suite given as a dict) asks for
    ``runs`` (run key -> loss label)."""
    if not runs:
        return
    path = _path(root, name, file)
    data = _read(path) or {"name": name, "file": file, "runs": {}}
    merged = {**{k: v for k, v in data["runs"].items() if isinstance(v, str)}, **runs}
    if merged == data["runs"]:
        return  # nothing new: a cached answer writes nothing
    try:
        atomic_write_json(path, {"name": name, "file": file, "runs": merged})
    except CacheWriteError:
        pass  # a read-only or full cache: the runs keep their results, only unnamed


def suites_of_runs(root: Path) -> dict[str, list[tuple[str, str, str | None]]]:
    """Run key -> [(suite name, label, suite file)] for every recorded suite, by suite name."""
    out: dict[str, list[tuple[str, str, str | None]]] = {}
    folder = Path(root) / FOLDER
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        data = _read(path)
        if data is None:
            continue
        file = data.get("file") if isinstance(data.get("file"), str) else None
        for key, label in data["runs"].items():
            if isinstance(label, str):
                out.setdefault(key, []).append((data["name"], label, file))
    for entries in out.values():
        entries.sort()
    return out
