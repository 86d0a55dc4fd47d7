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
    for group in module.param_groups().values():  # the loss's parameters, each in a group
        assert group["params"] and (group["lr"] is None or group["lr"] > 0)
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


DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=[
            pytest.mark.gpu,
            pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
        ],
    ),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", loss_names())
def test_criterion_in_float32_under_autocast(name, device):
    """Under mixed precision the embedder (and a softmax loss's classifier) run in low precision;
    the criterion itself runs in float32: it equals the float32 computation on the same
    low-precision inputs."""
    low = torch.bfloat16 if device == "cpu" else torch.float16
    spec = resolve_loss(name)
    torch.manual_seed(0)
    embedder = torch.nn.Linear(16, EMBEDDING_DIM).to(device)
    module = spec.build(spec.params(), NUM_CLASSES, EMBEDDING_DIM).to(device)
    x = torch.randn(16, 16, device=device)
    labels = torch.arange(NUM_CLASSES, device=device).repeat(4)
    with torch.autocast(device, dtype=low):
        embeddings = embedder(x)
        assert embeddings.dtype == low
        torch.manual_seed(1)
        value = module(embeddings, labels)
        if spec.family == "softmax":
            logits = module.classifier(embeddings)
    assert value.dtype == torch.float32 and torch.isfinite(value)
    torch.manual_seed(1)
    if spec.family == "softmax":
        reference = module.criterion(logits.float(), labels)
    else:
        reference = module(embeddings.float(), labels)
    # The same float32 operations on the same inputs: equal on CPU, to rounding on CUDA.
    # (With autocast left on, pml's matmuls run in bfloat16: ~3e-6 off on this batch.)
    tolerance = 0.0 if device == "cpu" else 1e-6
    torch.testing.assert_close(value, reference, rtol=tolerance, atol=tolerance)
    value.backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in embedder.parameters())
