"""The cache layout (DESIGN.md section 5)::

    <root>/runs/<key>/config.json      the fully resolved run configuration
                      checkpoint.pt    model, loss and optimizer state after the last epoch
                      best.pt          the best-validation checkpoint (select: best-val)
                      history.json     per-epoch training loss and validation metrics
                      result.json      final test metrics, versions and date (the run is done)
                      failed.json      why a run failed (epoch, step, reason)
                      .lock            flock'ed by the process working on the run

The root is ``--cache-dir``, else ``$MODBENCH_CACHE``, else ``~/.cache/modbench``. No timestamps
in paths; ``<key>`` is a hex hash, so no suite name or label reaches a path.

Complete or absent: every write is atomic (``atomic.py``). ``result.json`` holds the sha256 and
size of every file it points to and a checksum of itself; each checkpoint holds a digest of its
contents. Files read back are JSON or ``torch.load(weights_only=True)``; whatever is truncated,
altered or refused raises ``CorruptFile`` (one line), and callers train that run again.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modbench.cache.atomic import TEMP_SUFFIX, atomic_torch_save, atomic_write_json
from modbench.cache.checksum import file_sha256, record_sha256, state_digest
from modbench.cache.lock import RunLock
from modbench.errors import RunError, UserError

CACHE_ENV = "MODBENCH_CACHE"
KEY_PATTERN = re.compile(r"[0-9a-f]{8,64}")
CHECKPOINT_KEYS = ("model", "loss", "optimizer", "epoch", "history")


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


def _load_json(path: Path) -> Any | None:
    """The JSON in ``path``; None when there is no file; CorruptFile when it does not parse."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CorruptFile(path, f"cannot be read ({exc.strerror or exc})") from None
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
    lock_file = property(lambda self: self.path / ".lock")

    # The files result.json may point to (checked by name, so a record cannot name other paths).
    RECORDED = ("config.json", "checkpoint.pt", "best.pt", "history.json")

    def status(self) -> str:
        """``done``, ``failed``, ``partial`` (a checkpoint to resume from) or ``absent``.
        A corrupted result counts as not done (``load_result`` says why)."""
        if self.read_result() is not None:
            return "done"
        if self.failed_file.exists():
            return "failed"
        if self.checkpoint_file.exists():
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
        try:
            data = _load_json(self.history_file)
        except CorruptFile:
            return []
        return data if isinstance(data, list) else []

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

    def load_result(self, *, deep: bool = True) -> dict[str, Any] | None:
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
            target = self.path / name
            if not target.is_file():
                raise CorruptFile(target, "is missing (the result points to it)")
            if target.stat().st_size != info.get("bytes"):
                raise CorruptFile(target, "has the wrong size (truncated or replaced)")
            if deep and file_sha256(target) != info.get("sha256"):
                raise CorruptFile(target, "does not match the sha256 in result.json (altered or damaged)")
        return body

    def read_result(self) -> dict[str, Any] | None:
        """The result when it is present and intact (sizes checked), else None."""
        try:
            return self.load_result(deep=False)
        except CorruptFile:
            return None

    def write_failed(self, record: dict[str, Any]) -> None:
        atomic_write_json(self.failed_file, record)

    def load_failed(self) -> dict[str, Any] | None:
        """The failure record, None without one; CorruptFile when it does not parse."""
        record = _load_json(self.failed_file)
        if record is not None and not isinstance(record, dict):
            raise CorruptFile(self.failed_file, "is not a failure record")
        return record

    def read_failed(self) -> dict[str, Any] | None:
        try:
            return self.load_failed()
        except CorruptFile:
            return None

    def clear(self) -> None:
        """Forget everything of this run (``--force``, or a corrupted file); keeps the lock file."""
        for f in (
            self.result_file, self.failed_file, self.checkpoint_file, self.best_file,
            self.history_file, self.config_file,
        ):
            try:
                f.unlink()
            except FileNotFoundError:
                pass
        self.remove_temp_files()

    # -- checkpoints ---------------------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any], *, best: bool = False) -> None:
        state = {k: v for k, v in state.items() if k != "digest"}
        state["digest"] = state_digest(state)
        atomic_torch_save(self.best_file if best else self.checkpoint_file, state)

    def load_checkpoint(self, *, best: bool = False, map_location: str = "cpu") -> dict[str, Any] | None:
        """The checkpoint, None when there is none. Loaded with ``weights_only=True`` (no code in
        the file can run); CorruptFile when it is refused, truncated or its digest differs."""
        import pickle

        import torch

        path = self.best_file if best else self.checkpoint_file
        if not path.exists():
            return None
        try:
            state = torch.load(path, map_location=map_location, weights_only=True)
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
        return state


class RunStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def run(self, key: str) -> RunDir:
        # Keys are hashes (suite/runs.py); anything else could name a path outside the cache.
        if not KEY_PATTERN.fullmatch(key):
            raise ValueError(f"invalid run key {key!r}")
        return RunDir(self.root / "runs" / key)

    def all_runs(self) -> list[RunDir]:
        runs = self.root / "runs"
        if not runs.is_dir():
            return []
        return [RunDir(p) for p in sorted(runs.iterdir()) if p.is_dir() and KEY_PATTERN.fullmatch(p.name)]
