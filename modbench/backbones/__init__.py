"""The backbone registry. Each entry is a builder::

    build(*, in_channels, image_size, pretrained) -> nn.Module  # with .out_features

(see ``base.py``). Names are registered lazily so that listing them imports no torch. Besides
the built-in names: ``timm:<model>`` (``timm_models.py``), and users' backbones as
``./file.py:Class``, ``package.module:Class`` or entry-point names (``modbench/plugins.py``).
"""

from __future__ import annotations

from modbench.registry import PluginRegistry

BACKBONES = PluginRegistry(
    "backbone", "modbench.backbones", prefixed={"timm:": "modbench.backbones.timm_models:build"}
)
BACKBONES.add(
    "small-cnn",
    "modbench.backbones.small_cnn:build",
    "A 3-block CNN for small images (8x8 to 32x32); seconds per epoch on a CPU.",
)
BACKBONES.add(
    "googlenet",
    "modbench.backbones.googlenet:build",
    "torchvision GoogLeNet from scratch, 1024 features; 3x3 stride-1 stem for <=64 px images.",
)
BACKBONES.add(
    "resnet18",
    "modbench.backbones.resnet:build_resnet18",
    "torchvision ResNet-18 from scratch, 512 features; CIFAR stem (3x3 conv, no max-pool).",
)
BACKBONES.add(
    "resnet50",
    "modbench.backbones.resnet:build_resnet50",
    "torchvision ResNet-50 from scratch, 2048 features; CIFAR stem (3x3 conv, no max-pool).",
)

OTHER_FORMS = [
    ("timm:<model>", "Any timm model, from scratch (needs timm: pip install timm); list them: modbench list backbones 'timm:*'."),
    ("./file.py:Class", "Your own backbone from a file (relative to the suite) or package.module:Class."),
]


def resolve_backbone(name: str, base_dir=None):
    """The builder of backbone ``name`` (built-in, ``timm:``, file, module or entry point)."""
    return BACKBONES.get(name, base_dir=base_dir)


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
