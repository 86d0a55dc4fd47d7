"""Decoded, split datasets kept in the cache, so that each process does not decode them again.

Decoding Fashion-MNIST's ``.gz`` files and drawing its splits costs about 0.7 s of CPU per
process, digits about 1.3 s (mostly importing scikit-learn); every ``--jobs`` worker and every
process of a tuning study did it again. A process now reads the ``DataSplits`` a loader returned
from ``<root>/data/<key>.pt`` instead (about 0.1 s for Fashion-MNIST's 55 MB):

    <root>/data/<key>.pt       the splits: tensors, statistics, classes, record (torch.save)
    <root>/data/<key>.lock     flock'ed while one process decodes (the others wait, then read)

``<key>`` is a sha256 of everything that shapes the splits (``entry_key``):

* the run's whole resolved ``dataset`` section (name, ``val_fraction``, ``split_seed``,
  ``subset``, ``labels``, ``path``, ``test_subset``, ``subset_seed`` and any setting added
  later: the section is hashed as a whole, never field by field), and the run's seed where the
  section draws per seed (``subset_seed: per-seed``);
* the digest of the source files read now (``source_digest``): the bytes of Fashion-MNIST's or
  CIFAR's files (``locate.data_digest``), the names, sizes and modification times of a user's
  files (``paths.files_digest``, as in the run key), the bytes of scikit-learn's digits file;
* the bytes of every module of ``modbench/datasets/`` (the decoders and the split rules) and
  torch's version (its seeded ``randperm`` draws the splits).

A dataset whose source cannot be digested (files absent before ``--download``, a dataset this
module does not know) is decoded every time, never cached. The key is not part of any run key:
run keys are unchanged, and deleting ``<root>/data/`` costs one decode per dataset, nothing else.

Never trusted blindly: the file holds its key and a digest of its whole contents
(``checksum.state_digest``: every tensor byte by byte); it is read with
``torch.load(weights_only=True)``; an entry truncated, altered, copied under another key or of
another layout is decoded again and replaced (atomically, ``atomic.py``). The tensors read back
are bit-identical to a fresh decode, with the same dtypes, shapes and contiguity
(tests/cache/test_data_cache.py).
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
from dataclasses import fields
from pathlib import Path
from typing import Any, Callable

from modbench.cache.atomic import CacheWriteError, atomic_write_bytes
from modbench.cache.checksum import state_digest
from modbench.cache.lock import RunLock
from modbench.canonical import canonical_json

FORMAT = "modbench-decoded-splits/1"
DATA_FOLDER = "data"

_CODE_DIGEST: str | None = None


class _Damaged(Exception):
    """A cache entry that cannot be trusted (why: the message); it is decoded again."""


def datasets_code_digest() -> str:
    """sha256 of the bytes of every module of ``modbench/datasets/`` (read once per process)."""
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        import modbench.datasets as pkg

        folder = Path(pkg.__file__).resolve().parent
        h = hashlib.sha256()
        for path in sorted(folder.glob("*.py")):
            h.update(f"{path.name}\0".encode() + path.read_bytes() + b"\0")
        _CODE_DIGEST = h.hexdigest()
    return _CODE_DIGEST


def digits_source() -> Path | None:
    """scikit-learn's bundled digits file, found without importing scikit-learn (about 0.9 s of
    CPU), or None where it is not where scikit-learn keeps it."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
    return path if path.is_file() else None


def source_digest(dataset_cfg: dict[str, Any], data_dir) -> str | None:
    """A digest of the source the loader of ``dataset_cfg`` reads now, or None when it cannot be
    told (then nothing is cached)."""
    from modbench.datasets import TAKES_PATH, locate

    name = dataset_cfg["name"]
    if locate.reads_data_dir(name):
        digest = locate.data_digest(name, data_dir or os.environ.get("MODBENCH_DATA") or None)
        return None if digest in (None, locate.ABSENT) else f"files:{digest}"
    if name in TAKES_PATH:
        from modbench.datasets.paths import files_digest

        path = dataset_cfg.get("path")
        if not path or not Path(path).exists():
            return None
        return f"stat:{files_digest(Path(path))}"
    if name == "digits":
        path = digits_source()
        if path is None:
            return None
        from importlib.metadata import version

        from modbench.datasets.locate import file_sha256

        return f"sklearn-{version('scikit-learn')}:{file_sha256(path)}"
    return None


def entry_key(dataset_cfg: dict[str, Any], *, data_dir, seed: int | None) -> str | None:
    """The cache key of the splits ``load_splits(dataset_cfg, seed=seed)`` returns (see the
    module docstring), or None when they cannot be cached."""
    source = source_digest(dataset_cfg, data_dir)
    if source is None:
        return None
    import torch

    per_seed = dataset_cfg.get("subset_seed") == "per-seed"
    identity = {
        "format": FORMAT,
        "dataset": dataset_cfg,
        "seed": seed if per_seed else None,
        "source": source,
        "code": datasets_code_digest(),
        "torch": torch.__version__,
    }
    return hashlib.sha256(canonical_json(identity).encode()).hexdigest()[:32]


def _entry_bytes(key: str, splits) -> bytes:
    import torch

    body = {f.name: getattr(splits, f.name) for f in fields(splits)}
    state = {"format": FORMAT, "key": key, "splits": body}
    state["digest"] = state_digest(state)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def _read_entry(path: Path, key: str):
    """The ``DataSplits`` stored at ``path``; None when there is no entry; _Damaged when it
    cannot be trusted."""
    import torch

    from modbench.cache.store import CorruptFile, _read_regular
    from modbench.datasets.base import DataSplits

    try:
        raw = _read_regular(path)
    except CorruptFile as exc:
        raise _Damaged(str(exc)) from None
    if raw is None:
        return None
    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise _Damaged("refused by the safe loader") from None
    except Exception as exc:  # noqa: BLE001 - any failure to parse is a damaged file
        raise _Damaged(f"truncated or damaged ({type(exc).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise _Damaged("not a decoded-splits entry of this format")
    digest = state.pop("digest", None)
    try:
        ok = digest == state_digest(state)
    except TypeError:
        ok = False
    if not ok:
        raise _Damaged("does not match its digest (altered or damaged)")
    if state.get("key") != key:
        raise _Damaged(f"belongs to key {state.get('key')!r}, not {key}")
    body = state.get("splits")
    names = {f.name for f in fields(DataSplits)}
    if not isinstance(body, dict) or set(body) != names:
        raise _Damaged("does not hold the fields of DataSplits")
    return DataSplits(**body)


def _wait_for(lock: RunLock, seconds: float = 600.0) -> bool:
    """Hold ``lock`` once the process decoding the same splits is done; False (go on without
    it: the write is atomic either way) when its holder is stopped or ``seconds`` pass."""
    import time

    deadline = time.monotonic() + seconds
    while not lock.acquire(blocking=False):
        if lock.holder_stopped() or time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def cached_splits(
    dataset_cfg: dict[str, Any],
    load: Callable[[], Any],
    *,
    root: Path,
    data_dir=None,
    seed: int | None = None,
) -> tuple[Any, str]:
    """(splits, how): the splits ``load()`` returns for ``dataset_cfg``, read from the cache at
    ``root`` when an intact entry is there. ``how``: ``hit`` (read), ``built`` (decoded and
    stored), ``rebuilt`` (a damaged entry decoded and replaced), ``uncached`` (no key: decoded,
    not stored). A cache that cannot be written costs only the decode (the run goes on)."""
    key = entry_key(dataset_cfg, data_dir=data_dir, seed=seed)
    if key is None:
        return load(), "uncached"
    folder = Path(root) / DATA_FOLDER
    path = folder / f"{key}.pt"
    damaged = False
    try:
        found = _read_entry(path, key)
    except _Damaged:
        found, damaged = None, True
    if found is not None:
        return found, "hit"
    lock = RunLock(folder / f"{key}.lock")
    try:
        held = _wait_for(lock)
    except CacheWriteError:
        return load(), "uncached"
    try:
        try:  # another process may have written it while this one waited for the lock
            found = _read_entry(path, key)
        except _Damaged:
            found, damaged = None, True
        if found is not None:
            return found, "hit"
        splits = load()
        try:
            atomic_write_bytes(path, _entry_bytes(key, splits))
        except (CacheWriteError, TypeError):  # a full disk, or a record torch cannot save plainly
            return splits, "uncached"
        return splits, "rebuilt" if damaged else "built"
    finally:
        if held:
            lock.release()
