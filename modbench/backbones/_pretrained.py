"""Pretrained weights, from local files only: the one place a backbone's weights are read.

Two sources, one reading path (``_read``):

- ``pretrained: true``: torchvision's ImageNet file where torchvision itself would have cached it
  (``torch.hub.get_dir()/checkpoints/<file name of the weights' URL>``, i.e.
  ``$TORCH_HOME/hub/checkpoints`` or ``~/.cache/torch/hub/checkpoints``). A file whose sha256
  does not start with the hash in its name (torchvision's convention) is refused as corrupted.
- ``weights: <file>`` (``backbone.weights``, timm's name ``pretrained_file``): a state dict of
  the user's, resolved and digested when the suite was loaded (``weights_file.py``); the bytes
  read now must have that digest, the one in the run's key.

A missing file is a UserError naming the path: modbench never downloads weights. ``.safetensors``
files are read with safetensors (a format that holds tensors only); anything else with
``torch.load(..., weights_only=True)``, which refuses a pickle that would run code. A file that
does not hold a mapping of parameter names to tensors, or whose names and shapes do not match
the network (``load_checked``), is a UserError naming the first keys that differ.

Pretrained networks also say which inputs they expect (``set_input_stats``): the mean and std
their weights were trained with, so that the engine normalises as they expect (engine/model.py).
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from torch import nn

from modbench.backbones.weights_file import WeightsFile, hub_checkpoint_dir
from modbench.errors import UserError

# torchvision's ImageNet classification weights: inputs in [0, 1], normalised per RGB channel
# with these (torchvision.transforms._presets.ImageClassification's defaults).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SHOWN_KEYS = 3  # offending keys named in an error


def cached_path(url: str) -> Path:
    return hub_checkpoint_dir() / os.path.basename(url)


def state_dict_for(backbone: str, hub_weights: list, weights: WeightsFile | None) -> dict:
    """The state dict a pretrained ``backbone`` starts from: the user's file ``weights`` when
    given, else torchvision's ImageNet file (the first of ``hub_weights`` found in the cache,
    with the sha256 planned in ``weights`` when there is one)."""
    if weights is not None and weights.path is not None:
        return file_state_dict(backbone, weights)
    return load_cached_state_dict(backbone, hub_weights, sha256=weights.sha256 if weights else None)


def load_cached_state_dict(backbone: str, weights: list, sha256: str | None = None) -> dict:
    """The state dict of the first of ``weights`` (torchvision ``Weights``) found on disk;
    ``sha256``: the digest the run's key holds (``weights_file.resolve_weights``)."""
    paths = [cached_path(w.url) for w in weights]
    for path in paths:
        if path.is_file():
            break
    else:
        names = " or ".join(p.name for p in paths)
        raise UserError(
            f"backbone '{backbone}': pretrained weights not on disk (looked for {names} in "
            f"{hub_checkpoint_dir()}); modbench never downloads weights: place the file there "
            "(or set TORCH_HOME), give a file as backbone.weights, or set 'pretrained: false' in the suite"
        )
    data = _bytes(backbone, path)
    digest = hashlib.sha256(data).hexdigest()
    match = re.search(r"-([a-f0-9]{6,})\.", path.name)
    if match and not digest.startswith(match.group(1)):
        raise UserError(
            f"backbone '{backbone}': {path} does not match the hash in its name (corrupted "
            "or partial file); delete it and put a good copy there"
        )
    if sha256 is not None and digest != sha256:
        raise UserError(
            f"backbone '{backbone}': {path} is not the weights file the runs were planned with (its sha256 "
            f"is not the one in the runs' keys, {sha256[:12]}...); run the command again"
        )
    return _read(backbone, path, data, fix="delete it and put a good copy there")


def file_state_dict(backbone: str, weights: WeightsFile) -> dict:
    """The state dict in the user's file ``weights``, whose bytes must still have the sha256
    the run was keyed by (hashed here from the very bytes that are loaded)."""
    data = _bytes(backbone, weights.path, key="backbone.weights")
    if weights.sha256 is not None and hashlib.sha256(data).hexdigest() != weights.sha256:
        raise UserError(
            f"backbone '{backbone}': {weights.path} changed since the runs were planned (its sha256 is "
            f"not the one in the runs' keys, {weights.sha256[:12]}...); run the command again"
        )
    return _read(backbone, weights.path, data, fix="give a state dict saved with torch.save(model.state_dict(), path)")


def _bytes(backbone: str, path: Path, key: str | None = None) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        where = f" ({key})" if key else ""
        raise UserError(f"backbone '{backbone}': cannot read the weights file {path}{where}: "
                        f"{e.strerror or e}") from None


def _read(backbone: str, path: Path, data: bytes, *, fix: str) -> dict:
    """The state dict in ``data`` (the bytes of ``path``), read without running any code."""
    try:
        if Path(path).suffix == ".safetensors":
            from safetensors.torch import load as load_safetensors

            state = load_safetensors(data)
        else:
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except ImportError:
        raise UserError(f"backbone '{backbone}': reading {path} needs safetensors: pip install "
                        "safetensors") from None
    except Exception as e:  # noqa: BLE001 - any unreadable or unsafe file is the user's to replace
        # torch's refusal under weights_only ends in "WeightsUnpickler error: <what>"; a global
        # (a function or class to call) is what a pickle that runs code needs.
        found = re.search(r"WeightsUnpickler error:\s*([^\n]+)", str(e))
        detail = found.group(1) if found else (str(e).splitlines() or [""])[0]
        if isinstance(e, pickle.UnpicklingError) and "Unsupported global" in detail:
            why = ("it is a pickle that would run code or build objects other than tensors, which modbench "
                   f"never loads: {detail.split(' was not')[0][:120]}")
        else:
            why = f"{type(e).__name__}: {detail[:160]}"
        raise UserError(f"backbone '{backbone}': cannot read the weights in {path} ({why}); {fix}") from None
    if not isinstance(state, Mapping) or not state or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        hint = ""
        if isinstance(state, Mapping):
            nested = [k for k in ("state_dict", "model", "model_state_dict") if isinstance(state.get(k), Mapping)]
            hint = f" (it holds a checkpoint; save its '{nested[0]}' entry alone)" if nested else ""
        raise UserError(f"backbone '{backbone}': {path} is not a state dict (a mapping of parameter "
                        f"names to tensors){hint}; {fix}")
    return StateDict(state, source=Path(path))


class StateDict(dict):
    """A state dict read from ``source`` (named in messages)."""

    def __init__(self, items, source: Path | None = None):
        super().__init__(items)
        self.source = source


def _head(key: str, prefixes: Iterable[str]) -> bool:
    return any(key == p.rstrip(".") or key.startswith(p) for p in prefixes)


def load_checked(backbone: str, model: nn.Module, state: Mapping[str, torch.Tensor], *,
                 head: Iterable[str] = ()) -> None:
    """Load ``state`` into ``model`` after checking that both have the same parameter and buffer
    names with the same shapes. Keys under the ``head`` prefixes (an ImageNet classifier, which
    the backbone replaces) are dropped from both sides first: present or not, of any shape."""
    head = tuple(head)
    ours = {k: v for k, v in model.state_dict().items() if not _head(k, head)}
    theirs = {k: v for k, v in state.items() if not _head(k, head)}
    problems = [f"{k} is {tuple(theirs[k].shape)}, the network's {tuple(v.shape)}"
                for k, v in ours.items() if k in theirs and theirs[k].shape != v.shape]
    problems += [f"{k} missing" for k in ours if k not in theirs]
    problems += [f"{k} unexpected" for k in theirs if k not in ours]
    if problems:
        source = getattr(state, "source", None)
        where = f"the weights in {source}" if source else "the weights"
        more = f" and {len(problems) - SHOWN_KEYS} more" if len(problems) > SHOWN_KEYS else ""
        raise UserError(f"backbone '{backbone}': {where} do not fit the network ({'; '.join(problems[:SHOWN_KEYS])}"
                        f"{more}); give weights saved from this architecture")
    model.load_state_dict(theirs, strict=False)


def set_input_stats(model: nn.Module, mean: Iterable[float], std: Iterable[float]) -> None:
    """Record on ``model`` the per-channel mean and std (in units of [0, 1] intensities) its
    weights expect its RGB inputs normalised with (read by engine/model.py)."""
    model.input_mean, model.input_std = tuple(float(m) for m in mean), tuple(float(s) for s in std)


def check_channels(backbone: str, in_channels: int) -> None:
    if in_channels not in (1, 3):
        raise UserError(f"backbone '{backbone}': pretrained weights need 1 or 3 input channels, "
                        f"got {in_channels}")
