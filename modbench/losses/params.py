"""Compatibility: the parameter models by loss name, importable without torch.

Each loss now declares its parameter model in its own file (``base.py``); the loss modules are
torch-free at import, so these are the very classes ``resolve_loss(name).params`` gives.
New code should call ``resolve_loss(name, references).params``.
"""

from __future__ import annotations

from modbench.losses import LOSSES, resolve_loss
from modbench.losses.base import LossParams

PARAMS: dict[str, type[LossParams]] = {name: resolve_loss(name).params for name in LOSSES.names()}


def loss_params(name: str, references=None) -> type[LossParams]:
    """The parameter model of loss ``name`` (UnknownNameError naming the closest loss);
    ``references``: the suite's plugin references, resolved at load (``plugins.PluginRef``)."""
    return PARAMS.get(name) or resolve_loss(name, references).params
