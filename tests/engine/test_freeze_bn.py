"""backbone.freeze_bn: BatchNorm running statistics and affine parameters stay as loaded, through
the training loop's ``train()`` calls; everything else trains."""

from __future__ import annotations

import torch
from torch import nn

from modbench.engine.model import build_model
from modbench.engine.optim import build_optimizers

TRAIN = {"optimizer": "adam", "lr": 1e-2, "weight_decay": 4e-4, "betas": (0.9, 0.999)}


def _step(freeze_bn: bool):
    torch.manual_seed(0)
    model = build_model({"name": "resnet18", "embedding_dim": 8, "freeze_bn": freeze_bn},
                        in_channels=3, image_size=8, data_stats=((0.5,) * 3, (0.2,) * 3))
    optimizers, groups = build_optimizers(model, nn.Identity(), TRAIN)
    if freeze_bn:  # the optimizer groups' description says so
        assert groups[0]["parameters"] == ["model.*", "except 40 frozen tensors"]
    else:
        assert groups[0]["parameters"] == ["model.*"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()  # what the training loop calls at every epoch (engine/loop.py)
    loss = model(torch.randn(16, 3, 8, 8)).pow(2).sum()
    loss.backward()
    for opt in optimizers:
        opt.step()
    return model, before, optimizers


def _is_bn_key(model, key: str) -> bool:
    module = model.get_submodule(key.rpartition(".")[0])
    return isinstance(module, nn.BatchNorm2d)


def test_frozen_batchnorm_keeps_statistics_and_affine_parameters():
    model, before, optimizers = _step(freeze_bn=True)
    after = model.state_dict()
    bn_keys = [k for k in after if _is_bn_key(model, k)]
    assert len(bn_keys) == 20 * 5  # resnet18: 20 BatchNorms, weight/bias/mean/var/count each
    for key in bn_keys:
        assert torch.equal(after[key], before[key]), key
    assert not torch.equal(after["backbone.layer1.0.conv1.weight"], before["backbone.layer1.0.conv1.weight"])
    assert not torch.equal(after["head.weight"], before["head.weight"])
    held = {id(p) for opt in optimizers for g in opt.param_groups for p in g["params"]}
    assert not any(id(p) in held for m in model.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters())
    assert all(not m.training for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert model.training and model.backbone.layer1.training


def test_without_freeze_bn_the_same_step_changes_them():
    """The check above can fail: the same step moves statistics and affine parameters."""
    model, before, _ = _step(freeze_bn=False)
    after = model.state_dict()
    for key in ("backbone.bn1.running_mean", "backbone.bn1.weight", "backbone.layer2.0.bn1.bias"):
        assert not torch.equal(after[key], before[key]), key


def test_freeze_bn_survives_train_and_eval_switches():
    model = build_model({"name": "small-cnn", "embedding_dim": 8, "freeze_bn": True}, in_channels=1, image_size=8)
    for mode in (True, False, True):
        model.train(mode)
        norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        assert norms and all(not m.training for m in norms)
    assert model.backbone.features[0].training  # a conv: in training mode as asked
