"""The backbone registry. Each entry is a builder::

    build(*, in_channels, image_size, pretrained) -> nn.Module  # with .out_features

(see ``base.py``). A built-in backbone is one file here with a ``@register_backbone("name",
description="...")`` builder, found by reading the files (``modbench.registry.discover``), so
listing them imports no torch. Besides
the built-in names: ``timm:<model>`` (``timm_models.py``), and users' backbones as
``./file.py:Class``, ``package.module:Class`` or entry-point names (``modbench/plugins.py``).
"""

from __future__ import annotations

from pathlib import Path

from modbench.registry import PluginRegistry, discover

BACKBONES = PluginRegistry(
    "backbone", "modbench.backbones", prefixed={"timm:": "modbench.backbones.timm_models:build"}
)
for _name, _target, _description in discover(Path(__file__).resolve().parent, "modbench.backbones", "register_backbone"):
    BACKBONES.add(_name, _target, _description)

OTHER_FORMS = [
    ("timm:<model>", "Any timm model, from scratch or from a local pretrained_file (pip install 'modbench[timm]'); list them: modbench list backbones 'timm:*'."),
    ("./file.py:Class", "Your own backbone from a file (relative to the suite) or package.module:Class."),
]


def resolve_backbone(name: str, references=None):
    """The builder of backbone ``name`` (built-in, ``timm:``, file, module or entry point);
    ``references``: the suite's plugin references, resolved at load (``plugins.PluginRef``)."""
    return BACKBONES.get(name, references)


def backbone_names(pattern: str | None = None) -> list[str]:
    """Built-in and entry-point names matching ``pattern``; a ``timm:`` pattern lists timm's
    models (imports timm and torch)."""
    from modbench import plugins

    if pattern and pattern.startswith("timm:"):
        from modbench.backbones.timm_models import timm_model_names

        return timm_model_names(pattern)
    import fnmatch

    names = sorted({*BACKBONES.names(), *plugins.entry_point_names(BACKBONES.group)})
    return [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else names


def backbone_lines(pattern: str | None = None) -> list[tuple[str, str]]:
    """(name, description) lines for ``modbench list backbones [PATTERN]``."""
    if pattern:
        described = dict(BACKBONES.describe())
        return [(n, described.get(n, "")) for n in backbone_names(pattern)]
    return [*BACKBONES.describe(), *OTHER_FORMS]
