"""``timm:<model name>``: any timm model as a backbone, from scratch (``pip install 'modbench[timm]'``).

``timm.create_model(name, pretrained=..., num_classes=0, in_chans=in_channels)`` gives the pooled
features (``num_features`` of them) without a classifier. Models that take an image size
(ViTs, ...) are built for the suite's ``image_size``.

Stem for small images (``image_size <= 64``), as for the built-in ResNets: a timm ResNet-family
model (a ``conv1`` convolution followed by a ``maxpool``, e.g. resnet18/50, resnext, seresnet)
gets a 3x3 stride-1 ``conv1`` and no max-pool. Other families keep timm's stem: on 28x28 or
32x32 images an ImageNet stem downsamples early (a 32 px image ends at 1x1 after a /32 network);
docs/extending.md says so.

Pretrained weights come from a local file only (``backbone.pretrained_file``, the same key as
``weights``), read by ``_pretrained.py`` (safetensors, or ``torch.load(weights_only=True)``): a
state dict in timm's own format (what timm's hub files hold), checked by name and shape with the
classifier (``pretrained_cfg["classifier"]``) dropped, and loaded into the model built with 3
input channels (the engine repeats a grey channel). No checkpoint filter is applied: the weights
must fit the model as built (a ViT's position embedding fits one image size). The inputs are
normalised with the model's ``pretrained_cfg`` mean and std; a small-image ResNet keeps its
pretrained ``conv1``, run at stride 1 without the max-pool. ``pretrained: true`` is refused: timm
would download the weights, and modbench never downloads weights.
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


def _adapt_small_stem(model: nn.Module, in_channels: int, *, keep_conv: bool = False) -> bool:
    """A ResNet-family stem for small images: ``conv1`` at stride 1 (a new 3x3 one, or with
    ``keep_conv`` the pretrained one) and no max-pool; False for other stems."""
    conv, pool = getattr(model, "conv1", None), getattr(model, "maxpool", None)
    if not isinstance(conv, nn.Conv2d) or pool is None:
        return False
    if keep_conv:
        conv.stride = (1, 1)
    else:
        model.conv1 = nn.Conv2d(in_channels, conv.out_channels, 3, stride=1, padding=1, bias=False)
        nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.maxpool = nn.Identity()
    return True


def _classifier_prefixes(model: nn.Module) -> tuple[str, ...]:
    """The state-dict prefixes of the model's classifier (timm's ``pretrained_cfg``), which
    ``num_classes=0`` removes and a checkpoint may hold."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    names = cfg.get("classifier") or ()
    names = (names,) if isinstance(names, str) else tuple(names)
    return tuple(f"{n}." for n in names)


def build(name: str, *, in_channels: int, image_size: int, pretrained: bool = False,
          weights=None) -> nn.Module:
    from modbench.errors import UnknownNameError, UserError

    try:
        import timm
    except ImportError:
        raise UserError(f"backbone '{PREFIX}{name}' needs timm: pip install 'modbench[timm]'") from None
    if not timm.is_model(name):
        raise UnknownNameError("backbone", PREFIX + name, timm_model_names("*" + name[:3] + "*"))
    if pretrained:
        raise UserError(
            f"backbone '{PREFIX}{name}': pretrained: true would have timm download its weights, and "
            "modbench never downloads weights; give a local file as backbone.pretrained_file "
            "(e.g. the model.safetensors of the model's Hugging Face repository)"
        )
    if weights is not None:
        from modbench.backbones import _pretrained

        _pretrained.check_channels(PREFIX + name, in_channels)
        in_channels = 3  # the engine repeats a grey channel
    kwargs = dict(pretrained=False, num_classes=0, in_chans=in_channels)
    try:
        model = timm.create_model(name, img_size=image_size, **kwargs)
    except TypeError:  # the model has no image-size argument (convolutional nets)
        model = timm.create_model(name, **kwargs)
    if weights is not None:
        state = _pretrained.file_state_dict(PREFIX + name, weights)
        _pretrained.load_checked(PREFIX + name, model, state, head=_classifier_prefixes(model))
        cfg = model.pretrained_cfg
        _pretrained.set_input_stats(model, cfg.get("mean", _pretrained.IMAGENET_MEAN),
                                    cfg.get("std", _pretrained.IMAGENET_STD))
    if image_size <= SMALL_INPUT:
        model.small_stem = _adapt_small_stem(model, in_channels, keep_conv=weights is not None)
    model.out_features = int(model.num_features)
    return model
