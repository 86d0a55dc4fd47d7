"""Name -> code registries (losses, backbones, datasets), in the style of timm's.

Entries are registered lazily as ``"module:attribute"`` strings with a one-line description, so
that ``modbench list`` and ``--help`` can show every name without importing torch. ``get`` imports
the target on first use.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modbench import plugins
from modbench.errors import UnknownNameError


@dataclass(frozen=True)
class Entry:
    name: str
    target: str  # "package.module:attribute"
    description: str

    def load(self) -> Any:
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)


def discover(folder: Path, package: str, decorator: str, attribute: str | None = None, *,
             keywords: tuple[str, ...] = ()) -> list[tuple]:
    """``(name, "package.module:attribute", description)`` for every ``@decorator("name", ...,
    description="...")`` in the public ``*.py`` files of ``folder``; ``attribute`` defaults to
    the decorated function's name. With ``keywords``, each tuple has a fourth item: a dict of
    those keyword arguments that the decorator gives as literals (``takes_path=True``).

    Reading the decorators with ``ast`` (~ms for a dozen small files) instead of importing the
    modules keeps ``--help`` and ``modbench list`` free of torch and of the modules themselves,
    and needs no second list of names to keep in step with the files: adding a loss or a
    backbone is adding one file.
    """
    found = []
    for path in sorted(Path(folder).glob("*.py")):
        if path.name.startswith("_"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in tree.body:
            for deco in getattr(node, "decorator_list", []):
                if not (isinstance(deco, ast.Call) and getattr(deco.func, "id", None) == decorator):
                    continue
                if not (deco.args and isinstance(deco.args[0], ast.Constant) and isinstance(deco.args[0].value, str)):
                    raise ValueError(f"{path}: {decorator} needs the name as a string literal")
                description = next(
                    (kw.value.value for kw in deco.keywords if kw.arg == "description"
                     and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)),
                    None,
                )
                if description is None:
                    raise ValueError(f"{path}: {decorator} needs description='...' as a string literal")
                target = f"{package}.{path.stem}:{attribute or node.name}"
                item: tuple = (deco.args[0].value, target, description)
                if keywords:
                    item += ({kw.arg: kw.value.value for kw in deco.keywords
                              if kw.arg in keywords and isinstance(kw.value, ast.Constant)},)
                found.append(item)
    return found


class Registry:
    """A named collection of lazily imported entries of one kind (``loss``, ``backbone``...)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def add(self, name: str, target: str, description: str) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} '{name}' is registered twice")
        self._entries[name] = Entry(name, target, description)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def entry(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._entries) from None

    def get(self, name: str) -> Any:
        """The registered object (imported on first use); UnknownNameError for a bad name."""
        return self.entry(name).load()

    def names(self, pattern: str | None = None) -> list[str]:
        names = sorted(self._entries)
        return [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else names

    def describe(self) -> list[tuple[str, str]]:
        return [(n, self._entries[n].description) for n in self.names()]


class PluginRegistry(Registry):
    """A registry whose names also include users' plugins (``modbench/plugins.py``):
    ``./file.py:Class``, ``package.module:Class``, the entry-point group ``group``, and names
    with a ``prefix`` (``timm:``) that ``prefixed(name)`` resolves. ``in`` keeps its meaning
    (a registered built-in name, with an ``entry``); ``knows(name)`` and ``get`` accept every
    form; listing stays torch-free (entry points are read from package metadata only)."""

    def __init__(self, kind: str, group: str, prefixed: dict[str, str] | None = None):
        super().__init__(kind)
        self.group = group
        self.prefixed = prefixed or {}  # prefix -> "module:function(rest, **builder kwargs)"

    def knows(self, name: object) -> bool:
        """A built-in name, a prefixed one (``timm:...``), a plugin reference or an entry point."""
        if not isinstance(name, str):
            return False
        return (
            name in self
            or name.startswith(tuple(self.prefixed))
            or plugins.is_plugin_reference(name)
            or name in plugins.entry_point_names(self.group)
        )

    def get(self, name: str, references=None) -> Any:
        if name in self:
            return super().get(name)
        for prefix, target in self.prefixed.items():
            if name.startswith(prefix):
                function = Entry(prefix, target, "").load()
                rest = name[len(prefix):]
                return lambda **kwargs: function(rest, **kwargs)
        if plugins.is_plugin_reference(name):
            return plugins.backbone_builder(name, references)
        if name in plugins.entry_point_names(self.group):
            obj, _ = plugins.load_entry_point(self.group, name)
            return plugins.backbone_builder_from_class(obj, name)
        raise UnknownNameError(self.kind, name, [*self._entries, *plugins.entry_point_names(self.group)])

