"""The cache as a thing a user manages: what each run is, how big, how old; removing runs.

Used by ``modbench cache list|rm|du`` (cli/cache_cmd.py). Reads JSON and file sizes only (no
torch). Removal happens under the run's lock (``lock.py``): a run another process holds (still
training, or being read) is never touched, and is reported as skipped.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from modbench.cache.atomic import CacheWriteError
from modbench.cache.lock import RunLock
from modbench.cache.store import RunDir, RunStore
from modbench.errors import UserError


@dataclass(frozen=True)
class RunInfo:
    key: str
    loss: str  # the loss name in the run's config ("?" when config.json is missing or damaged)
    seed: int | None
    status: str  # done | failed | partial | absent (RunDir.status)
    bytes: int  # every file of the run folder
    date: _dt.datetime  # the result's date when finished, else the newest file's modification time
    locked: bool  # held by a process right now (training, or being read)
    config: dict | None


def _folder_bytes(path: Path) -> tuple[int, float]:
    """Total size of the regular files under ``path`` and the newest modification time."""
    total, newest = 0, 0.0
    for f in path.rglob("*"):
        try:
            st = f.lstat()
        except OSError:
            continue
        if f.is_file() and not f.is_symlink():
            total += st.st_size
        newest = max(newest, st.st_mtime)
    return total, newest


def is_locked(run_dir: RunDir) -> bool:
    """True when another process holds the run's lock now (checked without waiting)."""
    if not run_dir.lock_file.exists():
        return False
    lock = RunLock(run_dir.lock_file)
    try:
        if not lock.acquire(blocking=False):
            return True
    except CacheWriteError:  # a read-only cache: nobody writes it, so nobody holds its locks
        return False
    lock.release()
    return False


def run_info(run_dir: RunDir) -> RunInfo:
    config = run_dir.read_config()
    config = config if isinstance(config, dict) else None
    result = run_dir.result_or_none()
    size, newest = _folder_bytes(run_dir.path)
    date = None
    if result is not None:
        try:
            date = _dt.datetime.fromisoformat(str(result.get("date")))
        except ValueError:
            date = None
    if date is None:
        date = _dt.datetime.fromtimestamp(newest, tz=_dt.timezone.utc)
    if date.tzinfo is None:
        date = date.replace(tzinfo=_dt.timezone.utc)
    loss = (config or {}).get("loss", {}).get("name", "?") if config else "?"
    seed = (config or {}).get("seed")
    return RunInfo(
        key=run_dir.key,
        loss=str(loss),
        seed=seed if isinstance(seed, int) else None,
        status="done" if result is not None else run_dir.status(),
        bytes=size,
        date=date,
        locked=is_locked(run_dir),
        config=config,
    )


def list_runs(store: RunStore) -> list[RunInfo]:
    """Every run folder of the cache, oldest first."""
    return sorted((run_info(d) for d in store.all_runs()), key=lambda r: (r.date, r.key))


def find_runs(store: RunStore, refs: list[str]) -> list[RunDir]:
    """The run folders named by ``refs`` (full keys or unambiguous prefixes of at least 6
    characters, as `cache list` prints them); UserError for an unknown or ambiguous one."""
    keys = [d.key for d in store.all_runs()]
    found = []
    for ref in refs:
        ref = ref.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{6,64}", ref):
            raise UserError(f"run {ref!r}: a run is named by its key (hex, at least 6 characters; see `modbench cache list`)")
        matches = [k for k in keys if k.startswith(ref)]
        if not matches:
            raise UserError(f"run {ref}: no such run in {store.root} (see `modbench cache list`)")
        if len(matches) > 1:
            raise UserError(f"run {ref}: matches {len(matches)} runs ({', '.join(matches[:3])}, ...); give more characters")
        found.append(store.run(matches[0]))
    return found


_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)")
_UNIT_S = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> _dt.timedelta:
    """``30d``, ``12h``, ``2w``, ``90m``, ``45s`` -> a timedelta; UserError otherwise."""
    m = _AGE.fullmatch(text.strip().lower())
    if not m:
        raise UserError(f"--older-than {text!r}: give a number and a unit, e.g. 30d, 12h, 2w, 90m or 45s")
    try:
        return _dt.timedelta(seconds=float(m.group(1)) * _UNIT_S[m.group(2)])
    except (OverflowError, ValueError):  # past timedelta's 999999999 days, or an infinite float
        raise UserError(f"--older-than {text.strip()!r}: too long; give at most 999999999d (2.7 million years)") from None


@dataclass
class Removal:
    removed: list[str]
    skipped_locked: list[str]
    freed_bytes: int
    failed: list[tuple[str, str]] = field(default_factory=list)  # (key, why): a file that could not be deleted


def remove_runs(run_dirs: list[RunDir]) -> Removal:
    """Delete each run folder under its lock. A run whose lock another process holds is skipped
    (listed in ``skipped_locked``); the lock file goes last, while still held. A file that cannot
    be deleted (no permission, a read-only file system) stops that run's removal: the run is
    listed in ``failed`` with the file and the reason, and the other runs are removed."""
    removed, skipped, freed, failed = [], [], 0, []
    for run_dir in run_dirs:
        if not run_dir.path.is_dir():
            continue
        size, _ = _folder_bytes(run_dir.path)  # before our own lock writes its holder's pid
        lock = RunLock(run_dir.lock_file)
        if not lock.acquire(blocking=False):
            skipped.append(run_dir.key)
            continue
        try:
            for f in sorted(run_dir.path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if f == run_dir.lock_file:
                    continue
                if f.is_dir() and not f.is_symlink():
                    f.rmdir()
                else:
                    f.unlink()
            run_dir.lock_file.unlink()
        except OSError as exc:
            where = Path(exc.filename).name if exc.filename else "a file"
            failed.append((run_dir.key, f"cannot delete {where} ({exc.strerror or exc})"))
            continue
        finally:
            lock.release()
        try:
            run_dir.path.rmdir()
        except OSError:  # another process created a file in the meantime: it starts afresh
            pass
        removed.append(run_dir.key)
        freed += size
    return Removal(removed, skipped, freed, failed)


def human_bytes(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover
