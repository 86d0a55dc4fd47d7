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
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modbench.errors import UserError


class WeightsSpecError(UserError):
    """A problem with ``backbone.weights``; ``key`` is the key path for the suite's message."""

    key = "backbone.weights"


@dataclass(frozen=True)
class WeightsFile:
    """The weights a run's network starts from: the file and the sha256 its key holds."""

    path: Path
    sha256: str | None = None


def resolve_weights(backbone, base_dir: str | Path | None = None):
    """The suite's ``BackboneConfig`` with ``weights`` absolute and ``weights_digest`` the sha256
    of its bytes (any digest written in the suite replaced); unchanged without ``weights``.
    WeightsSpecError when the path is not a file."""
    if backbone.weights is None:
        if backbone.weights_digest is not None:
            return backbone.model_copy(update={"weights_digest": None})
        return backbone
    from modbench.datasets.locate import file_sha256
    from modbench.datasets.paths import resolve_data_path

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
    """The weights file of a run's resolved ``backbone`` configuration, or None."""
    path = backbone_cfg.get("weights")
    if not path:
        return None
    return WeightsFile(Path(path), backbone_cfg.get("weights_digest"))
