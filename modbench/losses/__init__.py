"""The loss registry. ``resolve_loss(name, references)`` gives a ``LossSpec`` (see ``base.py``).

Built-in losses are found by reading the files of this folder for their
``@register_loss("name", ..., description="...")`` decorator (with ``ast``), so adding a loss is
adding one file, and listing the names imports neither torch nor the loss modules. The module of
a name is imported only when the name is resolved; loss modules import torch inside their
functions, so that a loss's parameter model is torch-free too (tests/losses/test_registry.py).

Besides the built-in names (``modbench/plugins.py`` loads the last three, ``plugin.py`` makes
the spec):

- ``pml:ClassName``: any pytorch-metric-learning loss by class name;
- ``./file.py:Class`` (relative to the suite's folder, resolved at load) or ``package.module:Class``:
  a user's ``nn.Module``;
- names that installed packages register in the entry-point group ``modbench.losses``.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

from modbench import plugins
from modbench.errors import UnknownNameError
from modbench.losses.plugin import loss_spec, loss_spec_from_entry_point
from modbench.registry import Registry, discover

# Imports inside functions here: pytorch-metric-learning's losses (losses.pml) are imported for a
# ``pml:`` name only: the registry lists and checks losses without torch.

_HERE = Path(__file__).resolve().parent


def discover_builtin_losses(folder: Path = _HERE) -> list[tuple[str, str, str]]:
    """``(name, "module:SPEC", description)`` of every ``@register_loss`` in ``folder``'s files
    (read with ``ast``, see ``modbench.registry.discover``)."""
    return discover(folder, "modbench.losses", "register_loss", attribute="SPEC")


LOSSES = Registry("loss")
for _name, _target, _description in discover_builtin_losses():
    LOSSES.add(_name, _target, _description)


def loss_names(pattern: str | None = None) -> list[str]:
    """The registered loss names, sorted; ``pattern`` filters with shell wildcards (``"*entropy"``).

    ``pml:ClassName`` names are not listed here: any pytorch-metric-learning loss class resolves.
    """
    return LOSSES.names(pattern)


OTHER_FORMS = [
    ("pml:ClassName", "Any pytorch-metric-learning loss by class name, with its keyword parameters."),
    ("./file.py:Class", "Your own loss from a file (relative to the suite) or package.module:Class; docs/extending.md."),
]


def loss_lines(pattern: str | None = None) -> list[tuple[str, str]]:
    """(name, description) lines for ``modbench list losses [PATTERN]``: built-ins, entry points,
    forms; with a shell ``pattern``, the matching names only, ``pml:*`` patterns matching
    pytorch-metric-learning's loss classes (which imports it, and torch)."""

    if pattern and pattern.startswith("pml:"):
        from modbench.losses.pml import pml_classes

        return [
            (f"pml:{name}", f"pytorch-metric-learning's {name}, with its keyword parameters.")
            for name in pml_classes() if fnmatch.fnmatchcase(f"pml:{name}", pattern)
        ]
    entry_points = [(n, "(entry point of an installed package)") for n in plugins.entry_point_names("modbench.losses")]
    if pattern:
        return [(n, d) for n, d in [*LOSSES.describe(), *entry_points] if fnmatch.fnmatchcase(n, pattern)]
    return [*LOSSES.describe(), *entry_points, *OTHER_FORMS]


def resolve_loss(name: str, references=None):
    """The ``LossSpec`` of ``name``; UnknownNameError naming the closest match.

    ``pml:ClassName`` gives pytorch-metric-learning's loss of that class (see ``pml.py``);
    ``./file.py:Class``, ``package.module:Class`` and entry-point names give a user's loss
    (``modbench/plugins.py``), a file as ``references`` (the suite's, resolved at load) names it.
    """
    if name.startswith("pml:"):
        from modbench.losses.pml import pml_spec

        return pml_spec(name[len("pml:") :])
    if name in LOSSES:
        return LOSSES.get(name)
    if plugins.is_plugin_reference(name):
        return loss_spec(name, references)
    entry_points = plugins.entry_point_names("modbench.losses")
    if name in entry_points:
        return loss_spec_from_entry_point(name)
    if name[:1].isupper():
        # A CamelCase name is likely a pml class given without its prefix: suggest "pml:Name".
        from modbench.losses.pml import PREFIX, pml_classes

        raise UnknownNameError(
            "loss", name, [*LOSSES.names(), *entry_points, *(PREFIX + n for n in pml_classes())]
        )
    raise UnknownNameError("loss", name, [*LOSSES.names(), *entry_points])
