"""The cache layout (DESIGN.md section 5)::

    <root>/runs/<key>/config.json      the fully resolved run configuration
                      checkpoint.pt    model, loss and optimizer state after the last epoch
                      best.pt          the best-validation checkpoint (select: best-val)
                      history.json     per-epoch training loss and validation metrics
                      result.json      final test metrics, versions and date (the run is done)
                      failed.json      why a run failed (epoch, step, reason)

The root is ``--cache-dir``, else ``$MODBENCH_CACHE``, else ``~/.cache/modbench``. No timestamps
in paths; every write is atomic. Files read back are JSON or ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modbench.cache.atomic import atomic_torch_save, atomic_write_json
from modbench.errors import UserError

CACHE_ENV = "MODBENCH_CACHE"


def resolve_cache_root(cli_value: Path | None = None) -> Path:
    if cli_value is not None:
        return Path(cli_value).expanduser()
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "modbench"


def ensure_writable(root: Path) -> None:
    """A clear UserError before any training when the cache folder cannot be written."""
    try:
        (root / "runs").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"{root}: cache folder cannot be created ({exc.strerror or exc}); "
            "pass --cache-dir or set MODBENCH_CACHE to a writable folder"
        ) from None
    if not os.access(root / "runs", os.W_OK | os.X_OK):
        raise UserError(
            f"{root}: cache folder is not writable; pass --cache-dir or set MODBENCH_CACHE "
            "to a writable folder"
        )


def _read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


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

    def status(self) -> str:
        """``done``, ``failed``, ``partial`` (a checkpoint to resume from) or ``absent``."""
        if self.read_result() is not None:
            return "done"
        if self.failed_file.exists():
            return "failed"
        if self.checkpoint_file.exists():
            return "partial"
        return "absent"

    # -- JSON records ------------------------------------------------------------------------
    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write_json(self.config_file, config)

    def read_config(self) -> dict[str, Any] | None:
        return _read_json(self.config_file)

    def write_history(self, history: list[dict[str, Any]]) -> None:
        atomic_write_json(self.history_file, history)

    def read_history(self) -> list[dict[str, Any]]:
        data = _read_json(self.history_file)
        return data if isinstance(data, list) else []

    def write_result(self, result: dict[str, Any]) -> None:
        atomic_write_json(self.result_file, result)

    def read_result(self) -> dict[str, Any] | None:
        data = _read_json(self.result_file)
        return data if isinstance(data, dict) and "metrics" in data else None

    def write_failed(self, record: dict[str, Any]) -> None:
        atomic_write_json(self.failed_file, record)

    def read_failed(self) -> dict[str, Any] | None:
        return _read_json(self.failed_file)

    def clear(self) -> None:
        """Forget everything of this run (``--force``)."""
        for f in (self.result_file, self.failed_file, self.checkpoint_file, self.best_file, self.history_file):
            try:
                f.unlink()
            except FileNotFoundError:
                pass

    # -- checkpoints ---------------------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any], *, best: bool = False) -> None:
        atomic_torch_save(self.best_file if best else self.checkpoint_file, state)

    def load_checkpoint(self, *, best: bool = False, map_location: str = "cpu") -> dict[str, Any] | None:
        import torch

        path = self.best_file if best else self.checkpoint_file
        if not path.exists():
            return None
        return torch.load(path, map_location=map_location, weights_only=True)


class RunStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def run(self, key: str) -> RunDir:
        return RunDir(self.root / "runs" / key)

    def all_runs(self) -> list[RunDir]:
        runs = self.root / "runs"
        if not runs.is_dir():
            return []
        return [RunDir(p) for p in sorted(runs.iterdir()) if p.is_dir()]
