"""The loss registry of ``modbench/losses/__init__.py``: names, lazy import, unknown names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import modbench
from modbench.errors import UnknownNameError, UserError
from modbench.losses import LOSSES, loss_names, resolve_loss
from modbench.losses.base import LossParams, LossSpec

from .conftest import EMBEDDING_DIM, NUM_CLASSES


def test_names_are_sorted_and_filterable():
    names = loss_names()
    assert names == sorted(names)
    assert {"improved", "cross-entropy", "triplet"} <= set(names)
    assert loss_names("*entropy") == ["cross-entropy"]
    assert all(description for _, description in LOSSES.describe())


@pytest.mark.parametrize("name", loss_names())
def test_every_loss_builds_from_defaults(name):
    spec = resolve_loss(name)
    assert isinstance(spec, LossSpec) and spec.family in ("softmax", "embedding")
    assert issubclass(spec.params, LossParams)
    params = spec.params()  # every parameter has a default
    module = spec.build(params, NUM_CLASSES, EMBEDDING_DIM)
    assert isinstance(module, torch.nn.Module)
    assert module.param_lr is None or module.param_lr > 0
    torch.manual_seed(0)
    embeddings = torch.randn(16, EMBEDDING_DIM, requires_grad=True)
    labels = torch.arange(NUM_CLASSES).repeat(4)
    value = module(embeddings, labels)
    assert value.shape == () and torch.isfinite(value)
    value.backward()
    assert torch.isfinite(embeddings.grad).all()
    for p in module.parameters():
        assert p.grad is None or torch.isfinite(p.grad).all()
    if spec.family == "softmax":
        assert module.classifier.weight.shape == (NUM_CLASSES, EMBEDDING_DIM)


def test_unknown_name_suggests_closest():
    with pytest.raises(UnknownNameError) as info:
        resolve_loss("improvd")
    assert isinstance(info.value, UserError) and info.value.exit_code == 2
    assert "did you mean 'improved'" in str(info.value)


def test_listing_imports_no_torch():
    code = (
        "import sys; from modbench.losses import loss_names, LOSSES; loss_names(); "
        "LOSSES.describe(); assert 'torch' not in sys.modules, 'torch imported'"
    )
    root = Path(modbench.__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
