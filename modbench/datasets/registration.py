"""How a dataset declares itself: ``@register_dataset("name", description="...")`` on its loader,
in its own file of ``modbench/datasets/`` (the way timm's ``register_model`` marks a model).

Listing the names must import neither torch nor the loader modules (``modbench list``, ``--help``;
tests/test_startup.py), so ``modbench.registry.discover`` reads the decorators from the files
with ``ast`` (as for losses and backbones) instead of importing them: adding a dataset is adding
one file, with no second list of names to keep in step. The decorator itself only records the
declaration on the function (tests check it equals what ``discover`` read); the registry imports
the module when the name is first used.

Keywords (string or bool literals, so that ``ast`` can read them):

* ``description``: one line for ``modbench list datasets``;
* ``takes_path``: the suite's ``dataset.path`` (and ``image_size``) are the data's location and
  size, handed to the loader as ``path=`` and ``image_size=`` (``folder``, ``npz``);
* ``takes_image_size``: the suite's ``dataset.image_size`` (the size images are resized to) is
  handed to the loader as ``image_size=`` (the retrieval datasets, which read ``--data-dir``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

F = TypeVar("F", bound=Callable)

DECORATOR = "register_dataset"
KEYWORDS = ("takes_path", "takes_image_size")  # read by discover besides the description


@dataclass(frozen=True)
class Declaration:
    name: str
    target: str  # "modbench.datasets.module:function"
    description: str
    takes_path: bool = False
    takes_image_size: bool = False


def register_dataset(name: str, *, description: str, takes_path: bool = False,
                     takes_image_size: bool = False) -> Callable[[F], F]:
    """Mark ``fn`` as the loader of dataset ``name``; see the module docstring."""
    if not name or not description:
        raise ValueError("register_dataset needs a name and a description")

    def mark(fn: F) -> F:
        fn.modbench_dataset = Declaration(name, f"{fn.__module__}:{fn.__name__}", description,
                                          takes_path, takes_image_size)
        return fn

    return mark
