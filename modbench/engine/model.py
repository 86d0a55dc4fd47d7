"""The network every loss of a suite trains: backbone, then the embedding head (README.md, "The protocol").

Two backbone settings act here, on every backbone alike:

- Inputs as pretrained weights expect them. The data arrive normalised with the dataset's own
  per-channel mean and std (engine/device_data.py). A backbone whose weights expect other inputs
  says so with ``input_mean``/``input_std`` (``backbones/_pretrained.set_input_stats``: ImageNet's
  for torchvision's ResNets, the model's ``pretrained_cfg`` for timm); ``InputStats`` then undoes
  the dataset's normalisation and applies the weights' (one multiply-add per channel), repeating
  a grey channel to the three RGB channels first, as torchvision's ``Grayscale(3)`` does.
- ``freeze_bn``: every BatchNorm layer of the backbone stays in eval mode (its running statistics
  are used and never updated) and its affine weight and bias are not trained (``requires_grad``
  off, so the optimizer never holds them), whatever ``train()`` calls the training loop makes:
  the recipe of the metric-learning benchmarks for pretrained backbones (pytorch-metric-learning's
  benchmarker, Roth et al. 2020). The embedding head has no BatchNorm.
"""

from __future__ import annotations

import inspect

import torch
from torch import nn

from modbench.engine import backend
from modbench.errors import UserError


class InputStats(nn.Module):
    """Dataset-normalised images [B, C, H, W] -> the same images normalised with ``mean``/``std``
    (K channels; C = 1 is repeated to K = 3). ``x * scale + shift`` per channel, where
    ``scale = std_data / std`` and ``shift = (mean_data - mean) / std``. Buffers not saved in
    checkpoints (they follow from the configuration)."""

    def __init__(self, data_mean, data_std, mean, std):
        super().__init__()
        c, k = len(data_mean), len(mean)
        if c != k and not (c == 1 and k == 3):
            raise UserError(f"the backbone's weights expect {k}-channel images, the dataset has {c} channel(s)")
        self.repeat = k if c == 1 and k == 3 else 1
        dm = torch.tensor(data_mean, dtype=torch.float64).repeat(self.repeat)
        ds = torch.tensor(data_std, dtype=torch.float64).repeat(self.repeat)
        m, s = torch.tensor(mean, dtype=torch.float64), torch.tensor(std, dtype=torch.float64)
        self.register_buffer("scale", (ds / s).float().view(1, k, 1, 1), persistent=False)
        self.register_buffer("shift", ((dm - m) / s).float().view(1, k, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.repeat > 1:
            images = images.expand(-1, self.repeat, -1, -1)
        return torch.addcmul(self.shift, images, self.scale)


class EmbeddingNet(nn.Module):
    def __init__(self, backbone: nn.Module, embedding_dim: int, *, freeze_bn: bool = False,
                 input_stats: InputStats | None = None):
        super().__init__()
        self.input_stats = input_stats
        self.backbone = backbone
        self.head = nn.Linear(int(backbone.out_features), embedding_dim)
        self.freeze_bn = freeze_bn
        if freeze_bn:
            for bn in self.frozen_norms():
                for p in bn.parameters(recurse=False):
                    p.requires_grad_(False)

    def frozen_norms(self) -> list[nn.Module]:
        """The backbone's BatchNorm layers that ``freeze_bn`` keeps in eval mode."""
        if not self.freeze_bn:
            return []
        return [m for m in self.backbone.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]

    def train(self, mode: bool = True):
        super().train(mode)
        for bn in self.frozen_norms():
            bn.eval()
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.input_stats is not None:
            images = self.input_stats(images)
        return self.head(self.backbone(images))


def build_model(backbone_cfg: dict, *, in_channels: int, image_size: int, references=None,
                data_stats: tuple | None = None) -> EmbeddingNet:
    """``references``: the suite's plugin references resolved at load, for a backbone named
    ``./file.py:Class``;
    ``data_stats``: the dataset's per-channel ``(mean, std)``, which the data are normalised
    with, needed when the backbone's weights expect other inputs."""
    from modbench.backbones import BACKBONES, _pretrained
    from modbench.backbones.weights_file import weights_of

    name = backbone_cfg["name"]
    builder = BACKBONES.get(name, references)
    weights = weights_of(backbone_cfg)
    kwargs = dict(in_channels=in_channels, image_size=image_size, pretrained=backbone_cfg.get("pretrained", False))
    takes_weights = weights is not None and _takes(builder, "weights")
    backbone = builder(**kwargs, **({"weights": weights} if takes_weights else {}))
    if weights is not None and weights.path is not None and not takes_weights:
        # A user's backbone that does not load weights itself: the whole module's state dict,
        # checked by name and shape (nothing dropped).
        _pretrained.load_checked(name, backbone, _pretrained.file_state_dict(name, weights))
    stats = None
    if getattr(backbone, "input_mean", None) is not None:
        if data_stats is None:
            raise ValueError("build_model: a backbone with input_mean/input_std needs data_stats")
        stats = InputStats(*data_stats, backbone.input_mean, backbone.input_std)
    return EmbeddingNet(backbone, backbone_cfg["embedding_dim"], freeze_bn=bool(backbone_cfg.get("freeze_bn")),
                        input_stats=stats)


def _takes(builder, keyword: str) -> bool:
    try:
        params = inspect.signature(builder).parameters
    except (TypeError, ValueError):
        return False
    return keyword in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def restored_model(backbone_cfg: dict, state_dict: dict, *, in_channels: int, image_size: int, device: torch.device,
                   references=None, data_stats: tuple | None = None) -> EmbeddingNet:
    """A trained network rebuilt from its checkpoint's weights (``build_model`` and
    ``load_state_dict``), on ``device`` in the memory layout it trained in (``loop.place``:
    channels-last where ``backend.channels_last``). Rebuilt in the default layout, its
    convolutions run other kernels, whose embeddings differ from the training-time ones in the last
    bits: on some CPUs enough to move a k-means partition, so a re-evaluation or an export would
    not give the numbers the run recorded."""
    model = build_model(backbone_cfg, in_channels=in_channels, image_size=image_size, references=references,
                        data_stats=data_stats)
    model.load_state_dict(state_dict)
    model.to(device)
    if backend.channels_last(device):
        model.to(memory_format=torch.channels_last)
    return model
