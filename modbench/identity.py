"""A run's identity: everything besides its configuration that can change its numbers.

Two parts, kept apart on purpose (docs/reliability.md, "Run identity"):

- **The code** that trains the run: modbench's version and a sha256 of the source files it runs
  (the loss's module and the shared loss helpers, the backbone's module and helpers, every file
  of ``modbench/engine/`` and ``modbench/datasets/``, and the source file of a plugin loss or backbone). It is known when
  the suite is read, so it is part of the run's configuration and therefore of its cache key
  (``suite/runs.py``): results computed by other code are never reused, they are another run.
- **The numerics** of the process: device type, precision and CPU thread count
  (``engine/backend.py: numerics``). They are known only once a device is chosen, so they do
  not enter the key; they are recorded in every checkpoint and ``result.json`` and gate reuse:
  a result or a partial checkpoint made with other numerics is refused with a message naming
  both, never resumed or shown as if it were this command's.

This module is torch-free (``report`` and planning import it): it finds source files through
the registries' ``module:attribute`` targets with ``importlib.util.find_spec``, never by
importing the modules.
"""

from __future__ import annotations

import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

PACKAGE = Path(__file__).resolve().parent

# Files every run executes besides its loss and backbone modules.
SHARED_LOSS_FILES = ("losses/base.py", "losses/_common.py")
SHARED_BACKBONE_FILES = ("backbones/base.py", "backbones/_pretrained.py")


def _display_name(path: Path) -> str:
    """The name a file is hashed under: its path inside modbench/, or ``plugin/<file name>``
    (so that the digest does not depend on where the checkout or a plugin lives)."""
    try:
        return path.relative_to(PACKAGE).as_posix()
    except ValueError:
        return f"plugin/{path.name}"


def code_digest(paths: Iterable[Path]) -> str:
    """sha256 over the names and bytes of ``paths`` (sorted, each once); a missing file hashes
    as missing rather than failing, so that planning never stops on it (loading the loss will)."""
    digest = hashlib.sha256()
    files = sorted({Path(p).resolve() for p in paths}, key=_display_name)
    for path in files:
        name = _display_name(path).encode()
        try:
            data = path.read_bytes()
        except OSError:
            digest.update(b"missing:" + name + b"\0")
            continue
        digest.update(b"%d:%s%d:" % (len(name), name, len(data)))
        digest.update(data)
    return digest.hexdigest()


def _module_file(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _plugin_file(name: str, base_dir: Path | None = None, group: str = "modbench.losses") -> Path | None:
    """The source file of a plugin (modbench/plugins.py), found without importing it:
    ``path/to/file.py:Class`` (relative to the suite file's folder ``base_dir``),
    ``package.module:Class``, or an entry point of an installed package."""
    from modbench import plugins

    if plugins.is_plugin_reference(name):
        where = name.split(":")[0]
        if plugins._is_file(where):
            path = Path(where).expanduser()
            return path if path.is_absolute() or base_dir is None else Path(base_dir) / path
        return _module_file(where)
    try:
        import importlib.metadata

        for ep in importlib.metadata.entry_points(group=group):
            if ep.name == name:
                return _module_file(ep.value.split(":")[0])
    except Exception:  # noqa: BLE001 - broken package metadata: no plugin file to hash
        return None
    return None


def _registered_files(registry, name: str) -> list[Path]:
    if name not in registry:
        return []
    entry = registry.entry(name)
    files = [Path(p) for p in getattr(entry, "source_files", ()) or ()]
    module = entry.target.partition(":")[0]
    found = _module_file(module)
    return files + ([found] if found else [])


def _component_files(name: str, spec: Any, base_dir: Path | None, *, registry, shared, prefix: str,
                     prefix_file: str, group: str) -> list[Path]:
    """The source files of a loss or backbone ``name``: the files every one of its kind runs,
    the adapter of ``prefix`` names (``pml:``, ``timm:``), the registered entry's files, a
    plugin's file (``./file.py:Class``, ``pkg.mod:Class``, entry point group ``group``), and
    the files the built object names (``spec.source_files``)."""
    files = [PACKAGE / f for f in shared]
    if name.startswith(prefix):
        files.append(PACKAGE / prefix_file)
    files += _registered_files(registry, name)
    plugin = None if name in registry or name.startswith(prefix) else _plugin_file(name, base_dir, group)
    if plugin is not None:
        files.append(plugin)
    files += [Path(p) for p in getattr(spec, "source_files", ()) or ()]
    return files


def loss_source_files(name: str, spec: Any = None, base_dir: Path | None = None) -> list[Path]:
    from modbench.losses import LOSSES

    return _component_files(name, spec, base_dir, registry=LOSSES, shared=SHARED_LOSS_FILES, prefix="pml:",
                            prefix_file="losses/pml.py", group="modbench.losses")


def backbone_source_files(name: str, spec: Any = None, base_dir: Path | None = None) -> list[Path]:
    from modbench.backbones import BACKBONES

    return _component_files(name, spec, base_dir, registry=BACKBONES, shared=SHARED_BACKBONE_FILES, prefix="timm:",
                            prefix_file="backbones/timm_models.py", group="modbench.backbones")


def engine_source_files() -> list[Path]:
    """Every file of ``modbench/engine/`` and of ``modbench/datasets/``: the dataset loaders
    decide which pixels a run sees (decoding, resizing, splits), so they train it as much as the
    engine does. All of them rather than the one dataset's files: the loaders share helpers."""
    return sorted((PACKAGE / "engine").glob("*.py")) + sorted((PACKAGE / "datasets").glob("*.py"))


@lru_cache(maxsize=256)
def _code_identity(loss: str, backbone: str, base_dir: str | None = None) -> tuple[str, str]:
    from modbench import __version__

    folder = Path(base_dir) if base_dir else None
    files = (loss_source_files(loss, base_dir=folder) + backbone_source_files(backbone, base_dir=folder)
             + engine_source_files())
    return __version__, code_digest(files)[:20]


def code_identity(loss: str, backbone: str, base_dir: Path | str | None = None) -> dict[str, str]:
    """``{"modbench": version, "digest": ...}`` of the code a run of ``loss`` on ``backbone``
    executes; part of the run's configuration, hence of its cache key. ``base_dir``: the suite
    file's folder, against which plugin file names are resolved."""
    version, digest = _code_identity(loss, backbone, str(base_dir) if base_dir else None)
    return {"modbench": version, "digest": digest}


def numerics_mismatch(stored: dict[str, Any] | None, current: dict[str, Any]) -> str | None:
    """Why numbers recorded under ``stored`` numerics cannot stand for ``current`` ones (one
    phrase naming both), or None when they agree. A record without numerics (written before
    they were recorded) counts as a mismatch."""
    if not isinstance(stored, dict):
        return f"it records no device, precision or thread count; this command uses {describe_numerics(current)}"
    keys = ("device", "precision", "cpu_threads")
    if all(stored.get(k) == current.get(k) for k in keys):
        return None
    return f"it was computed with {describe_numerics(stored)}; this command uses {describe_numerics(current)}"


def describe_numerics(numerics: dict[str, Any]) -> str:
    threads = numerics.get("cpu_threads")
    text = f"{numerics.get('device', '?')} {numerics.get('precision', '?')}"
    return f"{text}, {threads} CPU thread(s)" if threads else text
