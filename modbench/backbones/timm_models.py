"""``timm:<model name>``: any timm model as a backbone, from scratch (``pip install 'modbench[timm]'``).

``timm.create_model(name, pretrained=..., num_classes=0, in_chans=in_channels)`` gives the pooled
features (``num_features`` of them) without a classifier. Models that take an image size
(ViTs, ...) are built for the suite's ``image_size``.

Stem for small images (``image_size <= 64``), as for the built-in ResNets: a timm ResNet-family
model (a ``conv1`` convolution followed by a ``maxpool``, e.g. resnet18/50, resnext, seresnet)
gets a 3x3 stride-1 ``conv1`` and no max-pool. Other families keep timm's stem: on 28x28 or
32x32 images an ImageNet stem downsamples early (a 32 px image ends at 1x1 after a /32 network);
docs/extending.md says so. ``pretrained: true`` asks timm for its weights (downloaded by timm,
not available offline); the adapted stem of a small-image ResNet is then new.
"""

from __future__ import annotations

import fnmatch

from torch import nn

PREFIX = "timm:"
SMALL_INPUT = 64


def timm_model_names(pattern: str = "*") -> list[str]:
    """``timm:<name>`` for every timm model matching ``pattern`` (with or without the prefix);
    without timm, the install hint (exit 2)."""
    try:
        import timm
    except ImportError:
        from modbench.errors import UserError

        raise UserError(f"listing '{pattern}' needs timm: pip install 'modbench[timm]'") from None

    pattern = pattern[len(PREFIX):] if pattern.startswith(PREFIX) else pattern
    return [PREFIX + n for n in timm.list_models() if fnmatch.fnmatch(n, pattern or "*")]


def _adapt_small_stem(model: nn.Module, in_channels: int) -> bool:
    conv, pool = getattr(model, "conv1", None), getattr(model, "maxpool", None)
    if not isinstance(conv, nn.Conv2d) or pool is None:
        return False
    model.conv1 = nn.Conv2d(in_channels, conv.out_channels, 3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.maxpool = nn.Identity()
    return True


def build(name: str, *, in_channels: int, image_size: int, pretrained: bool = False) -> nn.Module:
    from modbench.errors import UnknownNameError, UserError

    try:
        import timm
    except ImportError:
        raise UserError(f"backbone '{PREFIX}{name}' needs timm: pip install 'modbench[timm]'") from None
    if not timm.is_model(name):
        raise UnknownNameError("backbone", PREFIX + name, timm_model_names("*" + name[:3] + "*"))
    kwargs = dict(pretrained=pretrained, num_classes=0, in_chans=in_channels)
    try:
        try:
            model = timm.create_model(name, img_size=image_size, **kwargs)
        except TypeError:  # the model has no image-size argument (convolutional nets)
            model = timm.create_model(name, **kwargs)
    except Exception as exc:  # noqa: BLE001 - e.g. weights that cannot be downloaded offline
        if not pretrained:
            raise
        raise UserError(
            f"backbone '{PREFIX}{name}': timm could not load its pretrained weights "
            f"({type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:160]}); "
            "set pretrained: false to train from scratch"
        ) from exc
    if image_size <= SMALL_INPUT:
        model.small_stem = _adapt_small_stem(model, in_channels)
    model.out_features = int(model.num_features)
    return model
