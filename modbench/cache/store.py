"""The cache layout (README.md, "The cache")::

    <root>/runs/<key>/config.json      the fully resolved run configuration
                      checkpoint.pt    model, loss and optimizer state after the last epoch
                      best.pt          the best-validation checkpoint (select: best-val)
                      history.json     per-epoch training loss and validation metrics
                      queries.npz      per-query records of the test split (metrics/query_records.py)
                      result.json      final test metrics, versions and date (the run is done)
                      failed.json      why a run failed (epoch, step, reason)
                      .lock            flock'ed by the process working on the run

The root is ``--cache-dir``, else ``$MODBENCH_CACHE``, else ``~/.cache/modbench``. No timestamps
in paths; ``<key>`` is a hex hash, so no suite name or label reaches a path.

Complete or absent: every write is atomic (``atomic.py``). ``result.json`` holds the sha256 and
size of every file it points to and a checksum of itself; each checkpoint holds a digest of its
contents. Files read back are JSON or ``torch.load(weights_only=True)``; whatever is truncated,
altered or refused raises ``CorruptFile`` (one line), and callers train that run again.

Bound to its run: ``result.json``, ``failed.json``, every checkpoint and every history record
hold the run's key inside their checksummed content; a file copied in from another run folder
is refused like a damaged one. Only regular files are read: a FIFO, a device or a directory in
place of a cache file is refused at once (never opened for a blocking read).

``queries.npz`` (numpy ``savez``, read with ``allow_pickle=False``) holds what each test query
contributed to the metrics (hit at k, AP@R, the nearest sample's label, the k-means cluster, the
label), for paired analyses from the cache alone; ``RunStore.load_queries`` reads them torch-free.
It is checksummed in ``result.json`` like the other files, but it is derived data: a missing or
damaged one (``queries_problem``) never makes the run untrusted or retrained; it is reported and
computed again from the checkpoint, as for a result that lacks it (``modbench eval`` or
``compare`` add it, keeping the stored metrics).

Readers come in pairs: ``result`` / ``failure`` raise ``CorruptFile``; ``result_or_none`` /
``failure_or_none`` give None for a missing or damaged file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modbench.cache.atomic import TEMP_SUFFIX, atomic_torch_save, atomic_write_bytes, atomic_write_json
from modbench.cache.checksum import file_sha256, record_sha256, state_digest
from modbench.cache.lock import RunLock
from modbench.errors import RunError, UserError

# Imports inside functions here: numpy (per-query records) and torch (checkpoints) are imported
# when those files are read: listing runs and reading result.json stay light and torch-free.

CACHE_ENV = "MODBENCH_CACHE"
KEY_PATTERN = re.compile(r"[0-9a-f]{8,64}")
CHECKPOINT_KEYS = ("model", "loss", "optimizer", "epoch", "history")
QUERIES = "queries.npz"


class CorruptFile(RunError):
    """A cache file that is truncated, altered, of the wrong shape or refused by the safe loader."""

    def __init__(self, path: Path, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{self.path.name} {reason}")


def resolve_cache_root(cli_value: Path | None = None) -> Path:
    if cli_value is not None:
        return _expand_user(Path(cli_value), "--cache-dir")
    env = os.environ.get(CACHE_ENV)
    if env:
        return _expand_user(Path(env), CACHE_ENV)
    return _expand_user(Path("~/.cache/modbench"), "the default cache folder")


def _expand_user(path: Path, given_by: str) -> Path:
    """``~`` expanded, or a UserError (exit 2) when there is no home folder to expand it to:
    an unknown ``~user``, or ``HOME`` set empty (which would put the cache at ``/.cache``)."""
    hint = "pass --cache-dir or set MODBENCH_CACHE to an absolute folder"
    text = str(path)
    if not text.startswith("~"):
        return path
    if (text == "~" or text.startswith("~/")) and "HOME" in os.environ and not os.path.isabs(os.environ["HOME"]):
        raise UserError(f"{given_by} {text}: HOME is {os.environ['HOME']!r}, not an absolute folder; {hint}")
    try:
        return path.expanduser()
    except RuntimeError:  # "Could not determine home directory": no such user
        raise UserError(f"{given_by} {text}: no home folder for '{text.split('/')[0]}'; {hint}") from None


def ensure_writable(root: Path) -> None:
    """A clear UserError before any training when the cache folder cannot be written: creates
    ``runs/`` and writes (then removes) a probe file, which also catches read-only mounts."""
    hint = "pass --cache-dir or set MODBENCH_CACHE to a writable folder"
    try:
        (root / "runs").mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".probe.", suffix=TEMP_SUFFIX, dir=root / "runs")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UserError(f"{root}: cache folder is not writable ({exc.strerror or exc}); {hint}") from None


def _read_regular(path: Path) -> bytes | None:
    """The bytes of ``path``; None when there is no file; CorruptFile when it is not a regular
    file (opened without blocking, so a FIFO cannot hang the reader) or cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CorruptFile(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CorruptFile(path, "is not a regular file")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise CorruptFile(path, f"cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def _not_regular(path: Path) -> bool:
    """Something other than a regular file (or a link to one) is at ``path``."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return False
    except OSError:
        return True


def _load_json(path: Path) -> Any | None:
    """The JSON in ``path``; None when there is no file; CorruptFile when it does not parse or
    is not a regular file."""
    raw = _read_regular(path)
    if raw is None:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CorruptFile(path, "is truncated or not valid JSON") from None


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def key(self) -> str:
        return self.path.name

    config_file = property(lambda self: self.path / "config.json")
    checkpoint_file = property(lambda self: self.path / "checkpoint.pt")
    best_file = property(lambda self: self.path / "best.pt")
    history_file = property(lambda self: self.path / "history.json")
    result_file = property(lambda self: self.path / "result.json")
    failed_file = property(lambda self: self.path / "failed.json")
    queries_file = property(lambda self: self.path / QUERIES)
    lock_file = property(lambda self: self.path / ".lock")

    # The files result.json may point to (checked by name, so a record cannot name other paths).
    RECORDED = ("config.json", "checkpoint.pt", "best.pt", "history.json", QUERIES)

    def status(self) -> str:
        """``done``, ``failed``, ``partial`` (a checkpoint to resume from) or ``absent``.
        A corrupted result counts as not done (``result`` says why)."""
        if self.result_or_none() is not None:
            return "done"
        if self.failure_or_none() is not None:
            return "failed"
        if self.checkpoint_file.is_file():
            return "partial"
        return "absent"

    def lock(self) -> RunLock:
        return RunLock(self.lock_file)

    def remove_temp_files(self) -> None:
        """Temporary files of writes that a killed process never finished (hold the lock)."""
        if self.path.is_dir():
            for tmp in self.path.glob(f".*{TEMP_SUFFIX}"):
                try:
                    tmp.unlink()
                except OSError:
                    pass

    # -- JSON records ------------------------------------------------------------------------
    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write_json(self.config_file, config)

    def read_config(self) -> dict[str, Any] | None:
        try:
            return _load_json(self.config_file)
        except CorruptFile:
            return None

    def write_history(self, history: list[dict[str, Any]]) -> None:
        atomic_write_json(self.history_file, history)

    def read_history(self) -> list[dict[str, Any]]:
        """The per-epoch records; [] when there are none, the file is damaged or a record names
        another run (records without a ``run`` field are taken as this run's)."""
        try:
            data = _load_json(self.history_file)
        except CorruptFile:
            return []
        if not isinstance(data, list) or not all(
            isinstance(r, dict) and r.get("run", self.key) == self.key for r in data
        ):
            return []
        return data

    def write_queries(self, records: dict[str, Any]) -> None:
        """The per-query records (``metrics/query_records.py``) as ``queries.npz``, atomically;
        write them before ``write_result``, which checksums them. ValueError for records not of
        the format (a bug, never written)."""
        import numpy as np

        from modbench.metrics.query_records import problem

        why = problem(records)
        if why is not None:
            raise ValueError(f"per-query records of run {self.key}: {why}")
        buffer = io.BytesIO()
        np.savez(buffer, **records)
        atomic_write_bytes(self.queries_file, buffer.getvalue())

    def queries_problem(self, result: dict[str, Any], *, deep: bool = True) -> CorruptFile | None:
        """Why the per-query records that ``result`` (this run's verified result) names cannot be
        used (missing, wrong size, another sha256; ``deep``: the sha256 too), or None. A result
        that names none has no problem here (``cache/reuse.py: evaluation_answers`` asks for them)."""
        info = (result.get("files") or {}).get(QUERIES)
        if not isinstance(info, dict):
            return None
        target = self.queries_file
        if _not_regular(target):
            return CorruptFile(target, "is not a regular file")
        if not target.is_file():
            return CorruptFile(target, "is missing (the result points to it)")
        if target.stat().st_size != info.get("bytes"):
            return CorruptFile(target, "has the wrong size (truncated or replaced)")
        if deep and file_sha256(target) != info.get("sha256"):
            return CorruptFile(target, "does not match the sha256 in result.json (altered or damaged)")
        return None

    def queries(self) -> dict[str, Any]:
        """The per-query records of this finished run (``metrics/query_records.py``), checked
        against the sha256 in ``result.json``, loaded without pickle. CorruptFile when the result
        or the file is damaged, when the file is not of the format, or when the result names no
        records (a run measured before they existed: ``modbench eval`` adds them)."""
        import numpy as np

        from modbench.metrics.query_records import problem

        result = self.result(deep=False)
        if result is None:
            raise CorruptFile(self.result_file, "is missing: the run has no result, hence no per-query records")
        info = (result.get("files") or {}).get(QUERIES)
        if info is None:
            raise CorruptFile(self.queries_file, "is not recorded in result.json (a run measured before per-query "
                              "records existed); `modbench eval` on its suite adds them")
        raw = _read_regular(self.queries_file)
        if raw is None:
            raise CorruptFile(self.queries_file, "is missing (the result points to it)")
        if len(raw) != info.get("bytes") or hashlib.sha256(raw).hexdigest() != info.get("sha256"):
            raise CorruptFile(self.queries_file, "does not match the sha256 in result.json (altered or damaged)")
        try:
            with np.load(io.BytesIO(raw), allow_pickle=False) as loaded:
                records = {name: loaded[name] for name in loaded.files}
        except Exception as exc:  # noqa: BLE001 - any failure to parse is a damaged file
            raise CorruptFile(self.queries_file, f"is not a readable .npz ({type(exc).__name__})") from None
        why = problem(records)
        if why is not None:
            raise CorruptFile(self.queries_file, why)
        return records

    def write_result(self, result: dict[str, Any]) -> None:
        """``result`` plus the sha256 and size of each file of the run, and its own checksum.
        Written last: a result.json on disk means every file it names is complete."""
        # Round-trip through JSON first, so the checksum covers exactly what a reader will see.
        record = json.loads(json.dumps({k: v for k, v in result.items() if k not in ("files", "record_sha256")}))
        record["files"] = {
            name: {"sha256": file_sha256(self.path / name), "bytes": (self.path / name).stat().st_size}
            for name in self.RECORDED
            if (self.path / name).is_file()
        }
        record["record_sha256"] = record_sha256(record)
        atomic_write_json(self.result_file, record)

    def result(self, *, deep: bool = True) -> dict[str, Any] | None:
        """The result record, or None when the run has none. CorruptFile when result.json or a
        file it points to is truncated or altered: ``deep`` compares every file's sha256,
        otherwise only the sizes (cheap enough for ``report``)."""
        record = _load_json(self.result_file)
        if record is None:
            return None
        path = self.result_file
        if not isinstance(record, dict) or "record_sha256" not in record:
            raise CorruptFile(path, "is not a modbench result record")
        body = {k: v for k, v in record.items() if k != "record_sha256"}
        if record["record_sha256"] != record_sha256(body):
            raise CorruptFile(path, "does not match its checksum (altered or damaged)")
        if record.get("key") != self.key:
            raise CorruptFile(path, f"belongs to run {record.get('key')!r}, not {self.key}")
        metrics = record.get("metrics")
        if not isinstance(metrics, dict) or not all(
            isinstance(k, str) and _is_number(v) for k, v in metrics.items()
        ):
            raise CorruptFile(path, "has no valid 'metrics' mapping")
        files = record.get("files")
        if not isinstance(files, dict) or "checkpoint.pt" not in files:
            raise CorruptFile(path, "lists no checksummed files")
        for name, info in files.items():
            if name not in self.RECORDED or not isinstance(info, dict):
                raise CorruptFile(path, f"names an unexpected file {name!r}")
            if name == QUERIES:
                continue  # derived data, checked apart (queries_problem): damage costs a re-evaluation
            target = self.path / name
            if _not_regular(target):
                raise CorruptFile(target, "is not a regular file")
            if not target.is_file():
                raise CorruptFile(target, "is missing (the result points to it)")
            if target.stat().st_size != info.get("bytes"):
                raise CorruptFile(target, "has the wrong size (truncated or replaced)")
            if deep and file_sha256(target) != info.get("sha256"):
                raise CorruptFile(target, "does not match the sha256 in result.json (altered or damaged)")
        return body

    def result_or_none(self) -> dict[str, Any] | None:
        """The result when it is present and intact (sizes checked), else None."""
        try:
            return self.result(deep=False)
        except CorruptFile:
            return None

    def write_failed(self, record: dict[str, Any]) -> None:
        atomic_write_json(self.failed_file, {**record, "key": self.key})

    def failure(self) -> dict[str, Any] | None:
        """The failure record, None without one; CorruptFile when it does not parse or belongs
        to another run."""
        record = _load_json(self.failed_file)
        if record is not None and not isinstance(record, dict):
            raise CorruptFile(self.failed_file, "is not a failure record")
        if record is not None and record.get("key") != self.key:
            raise CorruptFile(self.failed_file, f"belongs to run {record.get('key')!r}, not {self.key}")
        return record

    def failure_or_none(self) -> dict[str, Any] | None:
        try:
            return self.failure()
        except CorruptFile:
            return None

    def clear(self) -> None:
        """Forget everything of this run (``--force``, or a corrupted file); keeps the lock file.
        Whatever stands in place of a cache file (a folder, a FIFO) goes too. A file that cannot
        be deleted (no permission, a read-only file system) is a RunError naming the run and the
        file (exit 1), never a traceback."""
        for f in (
            self.result_file, self.failed_file, self.checkpoint_file, self.best_file,
            self.history_file, self.config_file, self.queries_file,
        ):
            try:
                if f.is_dir() and not f.is_symlink():
                    shutil.rmtree(f)
                else:
                    f.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise RunError(
                    f"run {self.key}: cannot delete {f.name} ({exc.strerror or exc}) to train it again; "
                    f"fix the permissions of {self.path} or remove it by hand"
                ) from None
        self.remove_temp_files()

    def read_only(self) -> ReadOnlyRunDir:
        """This run folder for a process that must not write it (torchrun ranks other than 0)."""
        return ReadOnlyRunDir(self)

    # -- checkpoints ---------------------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any], *, best: bool = False) -> None:
        state = {k: v for k, v in state.items() if k != "digest"}
        state["key"] = self.key  # inside the digest: a checkpoint copied elsewhere is refused
        state["digest"] = state_digest(state)
        atomic_torch_save(self.best_file if best else self.checkpoint_file, state)

    def load_checkpoint(self, *, best: bool = False, map_location: str = "cpu") -> dict[str, Any] | None:
        """The checkpoint, None when there is none. Loaded with ``weights_only=True`` (no code in
        the file can run); CorruptFile when it is refused, truncated or its digest differs."""
        import torch

        path = self.best_file if best else self.checkpoint_file
        raw = _read_regular(path)  # not torch.load(path): a FIFO or a folder there must not hang or jam
        if raw is None:
            return None
        try:
            state = torch.load(io.BytesIO(raw), map_location=map_location, weights_only=True)
        except pickle.UnpicklingError:
            raise CorruptFile(
                path, "was refused: it is not a plain weights file (nothing in it was run)"
            ) from None
        except Exception as exc:  # noqa: BLE001 - any failure to parse is a damaged file
            first = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
            raise CorruptFile(path, f"is truncated or damaged ({first})") from None
        if not isinstance(state, dict) or not all(k in state for k in CHECKPOINT_KEYS):
            raise CorruptFile(path, "is not a modbench checkpoint")
        digest = state.pop("digest", None)
        if digest != state_digest(state):
            raise CorruptFile(path, "does not match its digest (altered or damaged)")
        if state.get("key") != self.key:
            raise CorruptFile(path, f"belongs to run {state.get('key')!r}, not {self.key} (copied from another run folder?)")
        return state


class ReadOnlyRunDir:
    """A RunDir whose writes do nothing: torchrun ranks other than 0 read checkpoints, write
    nothing (rank 0 alone writes the cache)."""

    _WRITES = frozenset({
        "write_config", "write_history", "write_result", "write_failed", "save_checkpoint", "clear",
        "remove_temp_files", "write_queries",
    })

    def __init__(self, inner: RunDir):
        self._inner = inner

    def __getattr__(self, name: str):
        if name in self._WRITES:
            return lambda *args, **kwargs: None
        return getattr(self._inner, name)


class RunStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def run(self, key: str) -> RunDir:
        # Keys are hashes (suite/runs.py); anything else could name a path outside the cache.
        if not KEY_PATTERN.fullmatch(key):
            raise ValueError(f"invalid run key {key!r}")
        return RunDir(self.root / "runs" / key)

    def pending(self, runs: list, *, force: bool = False) -> list:
        """The runs of ``runs`` without a result (absent or partial), each key once, in order:
        what a launcher must train (two processes must never train the same run). Failed runs
        stay failed unless ``force``, as in one process."""
        unique = list({run.key: run for run in runs}.values())
        if force:
            return unique
        return [run for run in unique if self.run(run.key).status() in ("absent", "partial")]

    def load_queries(self, keys: list[str]) -> list[dict[str, Any]]:
        """The per-query records of the finished runs ``keys``, in that order: one dict of numpy
        arrays each (``label``, ``ks``, ``hit``, ``ap_r``, ``nn_label``, ``cluster``; see
        ``metrics/query_records.py``). Torch-free. CorruptFile (naming the file) for a run
        whose records are missing, damaged or not the ones its result.json checksums."""
        return [self.run(key).queries() for key in keys]

    def all_runs(self) -> list[RunDir]:
        runs = self.root / "runs"
        if not runs.is_dir():
            return []
        return [RunDir(p) for p in sorted(runs.iterdir()) if p.is_dir() and KEY_PATTERN.fullmatch(p.name)]
