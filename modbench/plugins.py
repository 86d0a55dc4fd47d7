"""Users' own losses and backbones: from a file, an importable module, or an installed package.

Three forms of a name, for losses and backbones alike:

- ``./my_losses.py:PolyLoss``: a class in a Python file, the path relative to the suite file's
  folder, or absolute (resolved once, when the suite is loaded: ``PluginRef``);
- ``my_package.losses:PolyLoss``: a class in an importable module;
- a plain name that an installed package registers in the entry-point group
  ``modbench.losses`` / ``modbench.backbones`` (``importlib.metadata``), e.g. in its
  pyproject.toml: ``[project.entry-points."modbench.losses"] poly = "my_package.losses:PolyLoss"``.

The contracts are in docs/extending.md. A loss's parameter model is built from its constructor's
signature, so a suite's ``params`` are checked at load (unknown or missing keys: one line naming
the constructor's parameters). ``LossSpec.source_files`` lists the plugin's source file, which the
run identity digests: editing the loss retrains it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modbench.errors import UnknownNameError, UserError, closest
from modbench.user_code import running_user_code

# Imports inside functions here: torch is imported when a user's backbone is built (its output
# size measured on a dummy batch), not when a plugin reference is parsed or checked.

LOSS_GROUP = "modbench.losses"
BACKBONE_GROUP = "modbench.backbones"
_RESERVED_PREFIXES = ("pml:", "timm:")


class PluginError(UnknownNameError):
    """A plugin that cannot be loaded or used (exit code 2). An ``UnknownNameError``, so that
    the suite checks report it with the file and key (``losses[i].name``) like an unknown name."""

    def __init__(self, message: str):
        self.kind, self.name, self.choices = "plugin", "", []
        UserError.__init__(self, message)


def is_plugin_reference(name: str) -> bool:
    """``./file.py:Class``, ``/abs/file.py:Class`` or ``package.module:Class``."""
    if name.startswith(_RESERVED_PREFIXES) or name.count(":") != 1:
        return False
    where, attribute = name.split(":")
    return bool(where) and attribute.isidentifier()


def _is_file(where: str) -> bool:
    return where.endswith(".py") or "/" in where or "\\" in where


_FILE_MODULES: dict[tuple[str, str], Any] = {}
# The sha256 of the bytes each plugin file was last imported from, by resolved path: what the
# run identity digests for that file (modbench/identity.py), so that the key names the code
# that runs, not the file as it may be by the time it is hashed.
IMPORTED_SHA256: dict[str, str] = {}


def _import_file(path: Path):
    """Import ``path`` as a module of its own, compiled from the bytes read here (one module per
    file and content: an edited file is imported again, an unchanged one is not)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PluginError(f"{path}: cannot be read: {exc}") from exc
    sha = hashlib.sha256(data).hexdigest()
    key = (str(path), sha)
    IMPORTED_SHA256[str(path)] = sha
    if key in _FILE_MODULES:
        return _FILE_MODULES[key]
    name = "modbench_user_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up here
    try:
        with running_user_code(f"{path}: importing it", PluginError):  # its prints to stderr
            exec(compile(data, str(path), "exec"), module.__dict__)  # the bytes hashed above
    except PluginError:
        sys.modules.pop(name, None)
        raise
    except Exception as exc:
        sys.modules.pop(name, None)
        raise PluginError(f"{path}: cannot be imported: {type(exc).__name__}: {exc}") from exc
    _FILE_MODULES[key] = module
    return module


@dataclass(frozen=True)
class PluginRef:
    """A plugin reference as the suite wrote it (``name``), resolved once when the suite is
    loaded: ``file`` is the absolute path of ``./file.py:Class`` (None for ``module:Class``).
    Runs carry it (``RunSpec.references``), so that nothing after loading needs the suite's folder,
    also in a worker process."""

    name: str
    file: Path | None = None

    @property
    def attribute(self) -> str:
        return self.name.split(":")[1]


References = Mapping[str, PluginRef]  # reference as written -> resolved


def resolve_reference(name: str, base_dir: str | Path | None = None) -> PluginRef:
    """``name`` resolved: a relative file against ``base_dir`` (the suite file's folder; None: the
    current directory). Nothing is imported or read."""
    where = name.split(":")[0]
    if not _is_file(where):
        return PluginRef(name)
    path = Path(where).expanduser()
    if not path.is_absolute():
        path = Path(base_dir or Path.cwd()) / path
    return PluginRef(name, path.resolve())


def resolve_references(names: Iterable[str], base_dir: str | Path | None) -> dict[str, PluginRef]:
    """The plugin references among ``names`` (``is_plugin_reference``), each resolved once."""
    return {n: resolve_reference(n, base_dir) for n in names if is_plugin_reference(n)}


def reference_of(name: str, references: References | None = None) -> PluginRef:
    """``name``'s reference as resolved at load (``references``), else resolved now against the
    current directory (a name given outside any suite)."""
    if references and name in references:
        return references[name]
    return resolve_reference(name)


def load_reference(name: str, references: References | None = None) -> tuple[Any, tuple[str, ...]]:
    """The object ``name`` points at and the source files that define it; a relative file is
    the one ``references`` resolved it to at load (``reference_of``)."""
    where, attribute = name.split(":")
    ref = reference_of(name, references)
    if ref.file is not None:
        path = ref.file
        if not path.is_file():
            raise PluginError(
                f"'{name}': no file {path} (a relative path is looked up in the suite file's "
                "folder; give the file's path from there, or an absolute one)"
            )
        module = _import_file(path)
    else:
        try:
            with running_user_code(f"'{name}': importing module '{where}'", PluginError):
                module = importlib.import_module(where)
        except ImportError as exc:
            raise PluginError(f"'{name}': cannot import module '{where}': {exc}") from exc
    if not hasattr(module, attribute):
        public = [n for n in vars(module) if not n.startswith("_")]
        hint = closest(attribute, public)
        raise PluginError(
            f"'{name}': '{where}' has no '{attribute}'" + (f"; did you mean '{hint}'?" if hint else "")
        )
    obj = getattr(module, attribute)
    source = inspect.getsourcefile(obj) if inspect.isclass(obj) or inspect.isfunction(obj) else None
    source = source or getattr(module, "__file__", None)
    return obj, ((str(Path(source).resolve()),) if source else ())


@functools.lru_cache(maxsize=None)
def entry_point_names(group: str) -> tuple[str, ...]:
    """Names installed packages register in entry-point ``group``, sorted (read once: scanning
    the installed packages' metadata takes a few ms)."""
    return tuple(sorted({ep.name for ep in importlib.metadata.entry_points(group=group)}))


def load_entry_point(group: str, name: str) -> tuple[Any, tuple[str, ...]]:
    (ep,) = [ep for ep in importlib.metadata.entry_points(group=group) if ep.name == name][:1]
    try:
        obj = ep.load()
    except Exception as exc:
        raise PluginError(f"entry point '{name}' ({ep.value}) cannot be loaded: {exc}") from exc
    source = inspect.getsourcefile(obj) if inspect.isclass(obj) or inspect.isfunction(obj) else None
    return obj, ((str(Path(source).resolve()),) if source else ())


# -- backbones ---------------------------------------------------------------------------------


def backbone_builder_from_class(cls: Any, name: str):
    """A builder ``(*, in_channels, image_size, pretrained) -> nn.Module`` with ``out_features``
    for a user's backbone class: the constructor gets ``in_channels`` and ``image_size`` when it
    declares them; ``out_features`` is read from the module or measured on a dummy batch."""
    import torch

    if not callable(cls):
        raise PluginError(f"backbone '{name}': must be a class or function returning an nn.Module")
    takes = set(inspect.signature(cls).parameters)

    def build(*, in_channels: int, image_size: int, pretrained: bool = False):
        if pretrained and "pretrained" not in takes:
            raise PluginError(f"backbone '{name}' takes no 'pretrained' keyword; set pretrained: false")
        offered = {"in_channels": in_channels, "image_size": image_size, "pretrained": pretrained}
        net = cls(**{k: v for k, v in offered.items() if k in takes})
        if not isinstance(net, torch.nn.Module):
            raise PluginError(f"backbone '{name}' returned {type(net).__name__}, not an nn.Module")
        if not hasattr(net, "out_features"):
            was_training = net.training
            net.eval()
            with torch.no_grad():
                features = net(torch.zeros(2, in_channels, image_size, image_size))
            net.train(was_training)
            if features.dim() != 2:
                raise PluginError(
                    f"backbone '{name}' must map [B, C, H, W] to [B, F], gave shape {tuple(features.shape)}"
                )
            net.out_features = int(features.shape[1])
        return net

    return build


def backbone_builder(name: str, references: References | None = None):
    cls, _ = load_reference(name, references)
    return backbone_builder_from_class(cls, name)


def backbone_problem(name: str, references: References | None = None) -> str | None:
    """Why ``./file.py:Class`` or ``module:Class`` cannot be a backbone (None when it can),
    checked at suite load: the file or module is imported, the object looked up (nothing is
    built)."""
    if not is_plugin_reference(name):
        return None
    try:
        obj, _ = load_reference(name, references)
    except PluginError as exc:
        return str(exc)
    return None if callable(obj) else f"'{name}' is not a class or function"


def backbone_source_files(name: str, references: References | None = None) -> tuple[str, ...]:
    """The files defining a user's backbone (for the run identity)."""
    if is_plugin_reference(name):
        return load_reference(name, references)[1]
    if name in entry_point_names(BACKBONE_GROUP):
        return load_entry_point(BACKBONE_GROUP, name)[1]
    return ()
