"""ImageNet weights from torch's hub cache, never from the network.

``pretrained: true`` looks for torchvision's weight files where torchvision itself would have
cached them (``torch.hub.get_dir()/checkpoints/<file name of the weights' URL>``, i.e.
``$TORCH_HOME/hub/checkpoints`` or ``~/.cache/torch/hub/checkpoints``). A missing file is a
UserError naming that path; modbench never downloads weights. A file whose sha256 does not start
with the hash in its name (torchvision's convention) is refused as corrupted. The file is read
with ``torch.load(..., weights_only=True)`` (no code executed).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import torch

from modbench.errors import UserError


def hub_checkpoint_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def cached_path(url: str) -> Path:
    return hub_checkpoint_dir() / os.path.basename(url)


def load_cached_state_dict(backbone: str, weights: list) -> dict:
    """The state dict of the first of ``weights`` (torchvision ``Weights``) found on disk."""
    paths = [cached_path(w.url) for w in weights]
    for path in paths:
        if path.is_file():
            break
    else:
        names = " or ".join(p.name for p in paths)
        raise UserError(
            f"backbone '{backbone}': pretrained weights not on disk (looked for {names} in "
            f"{hub_checkpoint_dir()}); modbench never downloads weights: place the file there "
            "(or set TORCH_HOME), or set 'pretrained: false' in the suite"
        )
    match = re.search(r"-([a-f0-9]{6,})\.", path.name)
    if match:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if not digest.hexdigest().startswith(match.group(1)):
            raise UserError(
                f"backbone '{backbone}': {path} does not match the hash in its name (corrupted "
                "or partial file); delete it and put a good copy there"
            )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the user's to replace
        raise UserError(f"backbone '{backbone}': cannot read {path} ({e}); delete it and put a "
                        "good copy there") from None


def check_channels(backbone: str, in_channels: int) -> None:
    if in_channels not in (1, 3):
        raise UserError(f"backbone '{backbone}': pretrained weights need 1 or 3 input channels, "
                        f"got {in_channels}")


def grey_conv_weight(weight: torch.Tensor) -> torch.Tensor:
    """An RGB first-layer kernel [O, 3, k, k] summed to one channel [O, 1, k, k]: a grey image
    gives the same response as the RGB image with that grey in every channel."""
    return weight.sum(dim=1, keepdim=True)
