"""A run's identity: everything besides its configuration that can change its numbers.

Kept apart on purpose (docs/reliability.md, "Run identity"):

- **The code** that trains the run: modbench's version, a sha256 of the source files it runs
  (the loss's module and the shared loss helpers, the backbone's module and helpers, every file
  of ``modbench/engine/`` and ``modbench/datasets/``, and a plugin loss's or backbone's own
  files: its file and the modules of its own it imports), and the versions of the packages that
  compute its numbers. It is known when the suite is read, so it is part of the run's
  configuration and therefore of its cache key (``suite/runs.py``): results computed by other
  code or other package versions are another run, never reused.
- **The numerics**: device type, precision and CPU thread count (``cache/reuse.py``). The
  thread count is the run's ``train.cpu_threads`` (in its key); the device is known only once
  one is chosen, so it gates reuse instead: a result or a partial checkpoint made on another
  device is refused with a message naming both, never resumed or shown as if it were this
  command's.

This module is torch-free (``report`` and planning import it): it finds source files through
the registries' ``module:attribute`` targets with ``importlib.util.find_spec`` and a plugin's
own modules by reading its import statements, never by importing the modules.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import importlib.util
import sys
from pathlib import Path
from typing import Any, Iterable

from modbench import plugins
from modbench.backbones import BACKBONES
from modbench.losses import LOSSES
from modbench.versions import package_versions

# Imports inside functions here: ``modbench.__version__`` is read when a run is keyed, not at
# import (the package's __init__ imports the API lazily; tests replace the version).

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


_FILE_SHA: dict[tuple, str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of the bytes of ``path``. A plugin file imported in this process
    (``plugins.IMPORTED_SHA256``) counts as the bytes it was last imported from: the code that
    runs, whatever the file holds by now. Other files are read once per process for each (size,
    modification time, inode): an edited file is read again, never served from a stale digest."""
    plugins = sys.modules.get("modbench.plugins")
    imported = getattr(plugins, "IMPORTED_SHA256", {}) if plugins is not None else {}
    if str(path) in imported:
        return imported[str(path)]
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)
    if key not in _FILE_SHA:
        _FILE_SHA[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _FILE_SHA[key]


def code_digest(paths: Iterable[Path]) -> str:
    """sha256 over the names and contents (``file_sha256``) of ``paths`` (sorted, each once); a
    missing file hashes as missing rather than failing, so that planning never stops on it
    (loading the loss will)."""
    digest = hashlib.sha256()
    files = sorted({Path(p).resolve() for p in paths}, key=_display_name)
    for path in files:
        name = _display_name(path).encode()
        try:
            sha = file_sha256(path)
        except OSError:
            digest.update(b"missing:" + name + b"\0")
            continue
        digest.update(b"%d:%s%s\n" % (len(name), name, sha.encode()))
    return digest.hexdigest()


def _module_path(folder: Path, parts: list[str]) -> Path | None:
    """``folder/a/b.py`` or ``folder/a/b/__init__.py`` for ``parts == ["a", "b"]``."""
    if not parts:
        init = folder / "__init__.py"
        return init if init.is_file() else None
    base = folder.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def own_module_files(entry: Path, root: Path) -> list[Path]:
    """``entry`` and every module of the user's own code it imports, found by reading the import
    statements (nothing is imported): modules under ``root`` (a plugin file's folder, or the
    folder of a plugin module's top-level package), followed through their own imports. Code
    outside ``root`` (site-packages, the standard library) is not the plugin's and is left out."""
    seen: list[Path] = []
    todo = [entry.resolve()]
    root = root.resolve()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.append(path)
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (OSError, SyntaxError, ValueError):
            continue
        package = path.parent  # the folder relative imports start from
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [(root, alias.name.split(".")) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = root
                if node.level:
                    base = package
                    for _ in range(node.level - 1):
                        base = base.parent
                module = node.module.split(".") if node.module else []
                names = [(base, module)] + [(base, module + [alias.name]) for alias in node.names]
            else:
                continue
            for folder, parts in names:
                found = _module_path(folder, parts)
                for i in range(1, len(parts)):  # the packages on the way run their __init__
                    init = _module_path(folder, parts[:i])
                    if init is not None and root in init.parents:
                        todo.append(init.resolve())
                if found is not None and (root in found.resolve().parents):
                    todo.append(found.resolve())
    return seen


def _plugin_files(entry: Path, module: str | None) -> list[Path]:
    """A plugin's own files: its file and the modules of its own it imports (``own_module_files``;
    for ``package.module:Class``, everything of that top-level package it reaches)."""
    if module is None:
        return own_module_files(entry, entry.parent)
    top = module.split(".")[0]
    top_file = _module_file(top)
    if top_file is None or top_file.name != "__init__.py":
        return own_module_files(entry, entry.parent)
    return own_module_files(entry, top_file.parent.parent)


def _module_file(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _plugin_file(name: str, references: plugins.References | None = None,
                 group: str = "modbench.losses") -> list[Path]:
    """The source files of a plugin (modbench/plugins.py), found without importing it: its own
    file and the modules of its own that it imports (``_plugin_files``), for
    ``path/to/file.py:Class`` (the file ``references`` resolved at load), ``package.module:Class``,
    or an entry point of an installed package."""
    if plugins.is_plugin_reference(name):
        ref = plugins.reference_of(name, references)
        if ref.file is not None:
            return _plugin_files(ref.file, None) if ref.file.is_file() else [ref.file]
        where = name.split(":")[0]
        found = _module_file(where)
        return _plugin_files(found, where) if found else []
    try:
        for ep in importlib.metadata.entry_points(group=group):
            if ep.name == name:
                module = ep.value.split(":")[0]
                found = _module_file(module)
                return _plugin_files(found, module) if found else []
    except Exception:  # noqa: BLE001 - broken package metadata: no plugin file to hash
        return []
    return []


def _registered_files(registry, name: str) -> list[Path]:
    if name not in registry:
        return []
    entry = registry.entry(name)
    files = [Path(p) for p in getattr(entry, "source_files", ()) or ()]
    module = entry.target.partition(":")[0]
    found = _module_file(module)
    return files + ([found] if found else [])


def _component_files(name: str, spec: Any, references, *, registry, shared, prefix: str,
                     prefix_file: str, group: str) -> list[Path]:
    """The source files of a loss or backbone ``name``: the files every one of its kind runs,
    the adapter of ``prefix`` names (``pml:``, ``timm:``), the registered entry's files, a
    plugin's file (``./file.py:Class``, ``pkg.mod:Class``, entry point group ``group``), and
    the files the built object names (``spec.source_files``)."""
    files = [PACKAGE / f for f in shared]
    if name.startswith(prefix):
        files.append(PACKAGE / prefix_file)
    files += _registered_files(registry, name)
    if name not in registry and not name.startswith(prefix):
        files += _plugin_file(name, references, group)
    files += [Path(p) for p in getattr(spec, "source_files", ()) or ()]
    return files


def loss_source_files(name: str, spec: Any = None, references=None) -> list[Path]:
    return _component_files(name, spec, references, registry=LOSSES, shared=SHARED_LOSS_FILES, prefix="pml:",
                            prefix_file="losses/pml.py", group="modbench.losses")


def backbone_source_files(name: str, spec: Any = None, references=None) -> list[Path]:
    return _component_files(name, spec, references, registry=BACKBONES, shared=SHARED_BACKBONE_FILES, prefix="timm:",
                            prefix_file="backbones/timm_models.py", group="modbench.backbones")


def engine_source_files() -> list[Path]:
    """Every file of ``modbench/engine/`` and of ``modbench/datasets/``: the dataset loaders
    decide which pixels a run sees (decoding, resizing, splits), so they train it as much as the
    engine does. All of them rather than the one dataset's files: the loaders share helpers."""
    return sorted((PACKAGE / "engine").glob("*.py")) + sorted((PACKAGE / "datasets").glob("*.py"))


# Installed packages whose version can change a run's numbers: the network's kernels (torch),
# decoding (torchvision), the losses (pytorch-metric-learning), splits and metrics (numpy,
# scikit-learn); timm only for the runs of a timm backbone.
NUMERIC_PACKAGES = ("torch", "torchvision", "pytorch-metric-learning", "numpy", "scikit-learn")


def package_identity(backbone: str) -> dict[str, str]:
    """``{distribution: version}`` of ``NUMERIC_PACKAGES`` (plus timm for a ``timm:``
    backbone), from the installed metadata (nothing imported); a package not installed is
    left out."""
    installed = package_versions()
    wanted = NUMERIC_PACKAGES + (("timm",) if backbone.startswith("timm:") else ())
    return {name: installed[name] for name in wanted if name in installed}


def code_identity(loss: str, backbone: str, references: plugins.References | None = None) -> dict[str, Any]:
    """``{"modbench": version, "digest": ..., "packages": {...}}`` of the code a run of ``loss``
    on ``backbone`` executes; part of the run's configuration, hence of its cache key, so that a
    result of other code or other package versions is another run (trained, and listed by
    ``report`` beside this one), never reused. ``references``: the suite's plugin references,
    resolved at load (``plugins.PluginRef``). Computed from the files as they are now (or as a
    plugin was imported, ``file_sha256``), never from an earlier digest of this process."""
    from modbench import __version__

    files = (loss_source_files(loss, references=references) + backbone_source_files(backbone, references=references)
             + engine_source_files())
    return {"modbench": __version__, "digest": code_digest(files)[:20], "packages": package_identity(backbone)}


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
