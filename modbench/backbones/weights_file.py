"""A suite's own weights file (``backbone.weights``): where it is and the digest of its bytes.

Resolved once, when the suite is loaded, as a user dataset's ``path`` is: a relative path is
relative to the suite file's folder (a suite given as a dict: the current directory), and the
absolute path is what the run's configuration holds. ``backbone.weights_digest`` is the sha256
of the file's bytes, so that a run's key changes when the weights do: other bytes are another
run, trained again. Hashing reads the file once per process for each (path, size, modification
time, inode) (``datasets.locate.file_sha256``): about 0.5 s per 100 MB (a ResNet-50 file) on a
busy 2-core machine.

The file is read when the network is built (``_pretrained.file_state_dict``), and its bytes must
still have this digest. Torch-free: the suite loader calls this.

``pretrained: true`` is digested the same way: the torchvision file it will read from torch's hub
cache (``HUB_FILES``, the first one there, as ``_pretrained.load_cached_state_dict`` picks it)
gives ``weights_digest``, so that a ResNet-50 run on torchvision's V1 weights and one on its V2
weights are two runs. Without the file there is no digest (the build then fails, naming it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modbench.errors import UserError


# The file names of torchvision's ImageNet weights that ``pretrained: true`` reads, in the
# order the builders look for them (the last part of each ``Weights.url``), written out so that
# finding them needs no torch; tests/backbones/test_weights_file.py checks them against
# torchvision's.
HUB_FILES = {
    "resnet18": ["resnet18-f37072fd.pth"],
    "resnet50": ["resnet50-11ad3fa6.pth", "resnet50-0676ba61.pth"],  # IMAGENET1K_V2, then V1
    "googlenet": ["googlenet-1378be20.pth"],
}


def hub_checkpoint_dir() -> Path:
    """``torch.hub.get_dir()/checkpoints`` without importing torch: ``$TORCH_HOME/hub``, where
    ``TORCH_HOME`` defaults to ``$XDG_CACHE_HOME/torch``, and that to ``~/.cache/torch``."""
    home = os.getenv("TORCH_HOME") or os.path.join(os.getenv("XDG_CACHE_HOME") or "~/.cache", "torch")
    return Path(os.path.expanduser(home)) / "hub" / "checkpoints"


def hub_file(name: str) -> Path | None:
    """The hub-cache file ``pretrained: true`` reads for backbone ``name``, or None."""
    for file in HUB_FILES.get(name, []):
        path = hub_checkpoint_dir() / file
        if path.is_file():
            return path
    return None


class WeightsSpecError(UserError):
    """A problem with ``backbone.weights``; ``key`` is the key path for the suite's message."""

    key = "backbone.weights"


@dataclass(frozen=True)
class WeightsFile:
    """The weights a run's network starts from: the file (None: torchvision's file in torch's
    hub cache, ``pretrained: true``) and the sha256 its key holds."""

    path: Path | None
    sha256: str | None = None


def resolve_weights(backbone, base_dir: str | Path | None = None):
    """The suite's ``BackboneConfig`` with ``weights`` absolute and ``weights_digest`` the sha256
    of its bytes (any digest written in the suite replaced); with ``pretrained: true``, the
    digest of the hub-cache file it reads. WeightsSpecError when the path is not a file."""
    from modbench.datasets.locate import file_sha256
    from modbench.datasets.paths import resolve_data_path

    if backbone.weights is None:
        found = hub_file(backbone.name) if backbone.pretrained else None
        try:
            digest = file_sha256(found) if found is not None else None
        except OSError:
            digest = None  # unreadable: the build names the file
        if digest != backbone.weights_digest:
            return backbone.model_copy(update={"weights_digest": digest})
        return backbone

    path = resolve_data_path(backbone.weights, base_dir)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise WeightsSpecError(f"{path} {what}; give the path of a state-dict file (.pth, .pt or "
                               ".safetensors) relative to the suite file, or absolute")
    try:
        digest = file_sha256(path)
    except OSError as e:
        raise WeightsSpecError(f"cannot read {path} ({e.strerror or e})") from None
    return backbone.model_copy(update={"weights": str(path), "weights_digest": digest})


def weights_of(backbone_cfg: dict[str, Any]) -> WeightsFile | None:
    """The weights file of a run's resolved ``backbone`` configuration (path None: the hub
    cache's, with the digest planned), or None."""
    path, digest = backbone_cfg.get("weights"), backbone_cfg.get("weights_digest")
    if path:
        return WeightsFile(Path(path), digest)
    if backbone_cfg.get("pretrained") and digest:
        return WeightsFile(None, digest)
    return None
