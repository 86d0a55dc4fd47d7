"""How a dataset declares itself: ``@register_dataset("name", description="...")`` on its loader,
in its own file of ``modbench/datasets/`` (the way timm's ``register_model`` marks a model).

Listing the names must import neither torch nor the loader modules (``modbench list``, ``--help``;
tests/test_startup.py), so ``discover`` reads the decorators from the files with ``ast`` (a few
milliseconds for a handful of small files) instead of importing them: adding a dataset is adding
one file, with no second list of names to keep in step. The decorator itself only checks that the
module's declaration is what ``discover`` read, and marks the function; the registry imports the
module when the name is first used.

Keywords (string or bool literals, so that ``ast`` can read them):

* ``description``: one line for ``modbench list datasets``;
* ``takes_path``: the suite's ``dataset.path`` (and ``image_size``) are the data's location and
  size, handed to the loader as ``path=`` and ``image_size=`` (``folder``, ``npz``).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

F = TypeVar("F", bound=Callable)

DECORATOR = "register_dataset"


@dataclass(frozen=True)
class Declaration:
    name: str
    target: str  # "modbench.datasets.module:function"
    description: str
    takes_path: bool = False


def register_dataset(name: str, *, description: str, takes_path: bool = False) -> Callable[[F], F]:
    """Mark ``fn`` as the loader of dataset ``name``; see the module docstring."""
    if not name or not description:
        raise ValueError("register_dataset needs a name and a description")

    def mark(fn: F) -> F:
        fn.modbench_dataset = Declaration(name, f"{fn.__module__}:{fn.__name__}", description,
                                          takes_path)
        return fn

    return mark


def _literal(call: ast.Call, key: str, default=None):
    for kw in call.keywords:
        if kw.arg == key:
            if not isinstance(kw.value, ast.Constant):
                raise ValueError(f"{DECORATOR}: {key}= must be a literal")
            return kw.value.value
    return default


def discover(folder: Path, package: str) -> list[Declaration]:
    """Every ``@register_dataset`` on a top-level function of ``folder/*.py`` (not ``_*.py``)."""
    found = []
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            for deco in node.decorator_list:
                if not (isinstance(deco, ast.Call) and getattr(deco.func, "id", None) == DECORATOR):
                    continue
                if not (deco.args and isinstance(deco.args[0], ast.Constant)):
                    raise ValueError(f"{path}: {DECORATOR} needs the dataset name as a string literal")
                description = _literal(deco, "description")
                if not isinstance(description, str):
                    raise ValueError(f"{path}: {DECORATOR} needs description='...' as a literal")
                found.append(Declaration(deco.args[0].value, f"{package}.{path.stem}:{node.name}",
                                         description, bool(_literal(deco, "takes_path", False))))
    return found
