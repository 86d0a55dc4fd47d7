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


def test_parameter_models_import_without_torch():
    """Every built-in loss's parameter model (what suite checks and ``report`` use) loads
    without torch: loss files import torch inside their functions only."""
    code = (
        "import sys; from modbench.losses import LOSSES, resolve_loss\n"
        "for n in LOSSES.names():\n"
        "    spec = resolve_loss(n); spec.params.model_validate({}); assert spec.name == n, n\n"
        "assert 'torch' not in sys.modules and 'pytorch_metric_learning' not in sys.modules"
    )
    root = Path(modbench.__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


def test_a_new_loss_is_one_file(tmp_path):
    """The registry finds a loss from its file alone, by its ``@register_loss`` decorator."""
    from modbench.losses import discover_builtin_losses

    (tmp_path / "_helper.py").write_text("# private modules are skipped\n")
    (tmp_path / "squared_hinge.py").write_text(
        "from modbench.losses.base import LossParams, register_loss\n"
        "class P(LossParams):\n    margin: float = 1.0\n"
        "@register_loss('squared-hinge', family='softmax', params=P, description='A test loss.')\n"
        "def build(params, num_classes, embedding_dim):\n    raise NotImplementedError\n"
    )
    assert discover_builtin_losses(tmp_path) == [
        ("squared-hinge", "modbench.losses.squared_hinge:SPEC", "A test loss.")
    ]
    (tmp_path / "bad.py").write_text(
        "from modbench.losses.base import register_loss\n"
        "NAME = 'x'\n@register_loss(NAME, family='softmax', params=None, description='d')\n"
        "def build(p, n, e): pass\n"
    )
    with pytest.raises(ValueError, match="string literal"):
        discover_builtin_losses(tmp_path)


@pytest.mark.parametrize("name", loss_names())
def test_spec_declares_source_and_a_valid_search_space(name):
    spec = resolve_loss(name)
    assert spec.name == name and spec.description == LOSSES.entry(name).description
    files = [Path(f) for f in spec.source_files]
    assert files[0].name == LOSSES.entry(name).target.split(":")[0].split(".")[-1] + ".py"
    assert all(f.is_file() for f in files)
    own = set(spec.params.model_fields) - set(LossParams.model_fields)
    # Every loss with parameters of its own declares a space; a control without any (bce)
    # searches its learning rate only.
    assert spec.search_space or not own, "every built-in loss declares its search space"
    for key, bounds in spec.search_space.items():
        assert key in spec.params.model_fields
        assert bounds["low"] < bounds["high"] and isinstance(bounds["log"], bool)
        low = spec.params.model_validate({key: float(bounds["low"])})  # the range is valid
        high = spec.params.model_validate({key: float(bounds["high"])})
        assert getattr(low, key) < getattr(high, key)


def test_paper_search_space_of_improved():
    for name in ("improved", "improved-sigmoid"):
        space = resolve_loss(name).search_space
        assert space["beta"] == {"low": 2, "high": 16, "log": False}
        assert space["gamma"] == {"low": 2, "high": 21, "log": False}


def test_search_space_checked_at_registration():
    from modbench.losses.base import LossParams, check_search_space

    class P(LossParams):
        beta: float = 1.0

    with pytest.raises(ValueError, match="not a parameter"):
        check_search_space(P, {"gama": {"low": 1, "high": 2}})
    with pytest.raises(ValueError, match="low < high"):
        check_search_space(P, {"beta": {"low": 2, "high": 1}})
    with pytest.raises(ValueError, match="low > 0"):
        check_search_space(P, {"beta": {"low": 0, "high": 1, "log": True}})
