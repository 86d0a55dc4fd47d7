"""``modbench/engine/optim.py``: each baseline's optimizer setting reaches the optimizer."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from modbench.engine.optim import Optimizers, build_optimizers
from modbench.losses import resolve_loss

TRAIN = {"optimizer": "adam", "lr": 1e-5, "weight_decay": 4e-4, "betas": [0.9, 0.999], "momentum": 0.0}
CLASSES, DIM = 4, 8


def setup(name, params=None, train=None):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, DIM))
    spec = resolve_loss(name)
    loss = spec.build(spec.params(**(params or {})), CLASSES, DIM)
    optimizers, groups = build_optimizers(model, loss, {**TRAIN, **(train or {})})
    return model, loss, optimizers, {g["group"]: g for g in groups}


def group_of(optimizers, tensor):
    for opt in optimizers:
        for g in opt.param_groups:
            if any(p is tensor for p in g["params"]):
                return opt, g
    raise AssertionError("parameter in no optimizer")


def test_margin_beta_trains_with_its_own_sgd_without_decay():
    model, loss, optimizers, groups = setup("margin")
    beta = loss.loss.beta
    opt, g = group_of(optimizers, beta)
    assert isinstance(opt, torch.optim.SGD) and opt is not optimizers[0]
    assert (g["lr"], g["momentum"], g["weight_decay"]) == (0.1, 0.9, 0.0)
    net_opt, net = group_of(optimizers, model[0].weight)
    assert isinstance(net_opt, torch.optim.Adam) and (net["lr"], net["weight_decay"]) == (1e-5, 4e-4)
    assert groups["beta"]["optimizer"] == "sgd" and groups["beta"]["parameters"] == ["loss.loss.beta"]
    # One SGD step moves beta by lr * grad (Adam would move it by ~lr whatever the gradient).
    beta.grad = torch.full_like(beta, 1e-3)
    before = beta.detach().clone()
    opt.step()
    torch.testing.assert_close(before - beta.detach(), torch.full_like(beta, 1e-4))
    # The suite's optimizer instead, when asked.
    _, loss, optimizers, groups = setup("margin", {"beta_optimizer": "suite"})
    opt, g = group_of(optimizers, loss.loss.beta)
    assert isinstance(opt, torch.optim.Adam) and len(optimizers) == 1 and g["lr"] == 0.1


def test_proxies_at_their_own_learning_rate_and_scale():
    # ProxyNCA (Movshovitz-Attias et al.): proxies with the network, no temperature.
    _, loss, optimizers, groups = setup("proxynca")
    opt, g = group_of(optimizers, loss.loss.proxies)
    assert opt is optimizers[0] and g["lr"] == pytest.approx(1e-5) and g["weight_decay"] == 0.0
    assert loss.loss.softmax_scale == 1.0
    _, loss, optimizers, _ = setup("proxynca", {"proxy_lr_multiplier": 10.0, "softmax_scale": 3.0})
    assert group_of(optimizers, loss.loss.proxies)[1]["lr"] == pytest.approx(1e-4)
    assert loss.loss.softmax_scale == 3.0
    # ProxyNCA++ (Teh et al.): temperature 1/9, proxies on their own SGD, lr 40, momentum 0.9.
    _, loss, optimizers, groups = setup("proxynca++")
    opt, g = group_of(optimizers, loss.loss.proxies)
    assert isinstance(opt, torch.optim.SGD) and opt is not optimizers[0]
    assert (g["lr"], g["momentum"], g["weight_decay"]) == (40.0, 0.9, 0.0)
    assert loss.loss.softmax_scale == 9.0 and groups["proxies"]["optimizer"] == "sgd"


def test_proxynca_pp_default_scale_can_reach_a_low_loss():
    """At an ideal solution (each embedding on its proxy, proxies orthogonal: squared distance
    2 to the others) ProxyNCA++'s loss is log(1 + (C - 1) e^(-2 scale)): 0.34 at scale 1 with 4
    classes (0.80 with 10), 4.6e-8 at its default 9. ProxyNCA's (positive out of the
    denominator) is log(C - 1) - 2 scale, negative."""
    for scale in (1.0, 9.0):
        spec = resolve_loss("proxynca++")
        loss = spec.build(spec.params(softmax_scale=scale), CLASSES, DIM)
        with torch.no_grad():
            loss.loss.proxies.copy_(torch.eye(CLASSES, DIM))
        value = loss(torch.eye(CLASSES, DIM), torch.arange(CLASSES)).item()
        assert value == pytest.approx(math.log1p((CLASSES - 1) * math.exp(-2 * scale)), rel=1e-3, abs=1e-7)
    assert spec.params().softmax_scale == 9.0 and value < 1e-6
    original = resolve_loss("proxynca")
    loss = original.build(original.params(), CLASSES, DIM)
    with torch.no_grad():
        loss.loss.proxies.copy_(torch.eye(CLASSES, DIM))
    value = loss(torch.eye(CLASSES, DIM), torch.arange(CLASSES)).item()
    assert value == pytest.approx(math.log(CLASSES - 1) - 2.0, rel=1e-5)


def test_classifier_not_decayed_unless_the_suite_says_so():
    _, loss, optimizers, groups = setup("cross-entropy")
    assert group_of(optimizers, loss.classifier.weight)[1]["weight_decay"] == 0.0
    _, loss, optimizers, _ = setup("cross-entropy", {"weight_decay": 4e-4})
    assert group_of(optimizers, loss.classifier.weight)[1]["weight_decay"] == 4e-4
    assert len(optimizers) == 1 and isinstance(optimizers[0], torch.optim.Adam)


def test_triplet_margin_default_and_npair_temperature():
    _, loss, optimizers, groups = setup("triplet")
    assert loss.loss.margin == 0.2 and loss.miner.margin == 0.2
    assert set(groups) == {"network"}  # no loss parameters
    _, loss, _, _ = setup("npair", {"form": "cosine", "temperature": 0.5, "l2_reg": 0.0})
    assert loss.loss.temperature == 0.5
    # Two pairs of unit vectors, orthogonal across classes: logits 1/T on the diagonal, 0 off it.
    value = loss(torch.eye(4, DIM)[[0, 0, 1, 1]], torch.tensor([0, 0, 1, 1]))
    assert value.item() == pytest.approx(math.log1p(math.exp(-1 / 0.5)), rel=1e-5)


@pytest.mark.parametrize("kind,cls", [("adamw", torch.optim.AdamW), ("sgd", torch.optim.SGD)])
def test_adamw_and_sgd_available(kind, cls):
    model, loss, optimizers, groups = setup("margin", train={"optimizer": kind, "momentum": 0.5})
    assert isinstance(optimizers[0], cls)
    assert groups["network"]["optimizer"] == kind
    if kind == "sgd":  # beta keeps Wu et al.'s momentum, the network the suite's
        assert group_of(optimizers, model[0].weight)[1]["momentum"] == 0.5
        assert group_of(optimizers, loss.loss.beta)[1]["momentum"] == 0.9


def test_description_is_json_and_combined_optimizers_round_trip():
    model, loss, optimizers, groups = setup("margin")
    text = json.dumps(list(groups.values()))
    assert {"network", "beta"} <= set(groups) and "weight_decay" in text
    both = Optimizers(optimizers)
    assert len(both.param_groups) == sum(len(o.param_groups) for o in optimizers)
    x, y = torch.randn(16, 16), torch.arange(CLASSES).repeat(4)
    both.zero_grad()
    loss(model(x), y).backward()
    both.step()
    state = both.state_dict()
    fresh = Optimizers(setup("margin")[2])
    fresh.load_state_dict(state)
    assert fresh.state_dict()["optimizers"][1]["state"].keys() == state["optimizers"][1]["state"].keys()


def test_a_loss_without_param_groups_gets_one_undecayed_group():
    class Plain(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(3))

    _, groups = build_optimizers(nn.Linear(2, 2), Plain(), TRAIN)
    (loss_group,) = [g for g in groups if g["group"] != "network"]
    assert loss_group["weight_decay"] == 0.0 and loss_group["lr"] == 1e-5


def test_a_run_trains_margin_beta_with_its_own_sgd(cli, write_suite, cache_dir):
    """End to end: the checkpoint of a margin-loss run holds two optimizer states, the second
    Wu et al.'s SGD for beta (lr 0.1, momentum 0.9, no decay) with a momentum buffer."""
    path = write_suite({
        "name": "margin-groups", "dataset": {"name": "digits", "subset": 8},
        "backbone": {"name": "small-cnn", "embedding_dim": 16},
        "train": {"epochs": 1, "batch_size": 40, "lr": 1e-3, "weight_decay": 4e-4,
                  "sampler": "m-per-class", "m": 4},
        "seeds": [0], "losses": [{"name": "margin"}],
    })
    result = cli("compare", "--suite", path, "--json", "--cache-dir", cache_dir, "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    (checkpoint,) = list(cache_dir.glob("runs/*/checkpoint.pt"))
    state = torch.load(checkpoint, weights_only=True)["optimizer"]["optimizers"]
    assert len(state) == 2
    (network,) = state[0]["param_groups"]  # the margin loss's only parameter is beta
    assert network["lr"] == 1e-3 and network["weight_decay"] == 4e-4 and "betas" in network
    (beta,) = state[1]["param_groups"]
    assert (beta["lr"], beta["momentum"], beta["weight_decay"]) == (0.1, 0.9, 0.0)
    assert all("momentum_buffer" in s for s in state[1]["state"].values()) and state[1]["state"]


@pytest.mark.parametrize("name, tensor", [
    ("improved", lambda loss: loss.classifier.weight),
    ("proxynca", lambda loss: loss.loss.proxies),
    ("margin", lambda loss: loss.loss.beta),
])
def test_weight_decay_on_all_decays_the_losss_own_parameters(name, tensor):
    _, loss, optimizers, groups = setup(name)
    assert group_of(optimizers, tensor(loss))[1]["weight_decay"] == 0.0  # backbone (default)
    _, loss, optimizers, groups = setup(name, train={"weight_decay_on": "all"})
    opt, g = group_of(optimizers, tensor(loss))
    assert g["weight_decay"] == TRAIN["weight_decay"]
    described = next(d for d in groups.values() if d["group"] != "network")
    assert described["weight_decay"] == TRAIN["weight_decay"] and "weight_decay_on: all" in described["source"]
    # One plain SGD step with a zero gradient moves a parameter by lr * weight_decay * value,
    # as torch.optim.SGD(all parameters, weight_decay=wd) in a script would.
    _, loss, optimizers, _ = setup(name, train={"weight_decay_on": "all", "optimizer": "sgd", "momentum": 0.0})
    p = tensor(loss)
    with torch.no_grad():
        p.fill_(2.0)
    opt, g = group_of(optimizers, p)
    for q in (q for o in optimizers for gr in o.param_groups for q in gr["params"]):
        q.grad = torch.zeros_like(q)
    opt.step()
    torch.testing.assert_close(p.detach(), torch.full_like(p, 2.0 - g["lr"] * TRAIN["weight_decay"] * 2.0))


def test_weight_decay_on_all_keeps_a_losss_own_weight_decay():
    _, loss, optimizers, _ = setup("improved", {"weight_decay": 1e-2}, train={"weight_decay_on": "all"})
    assert group_of(optimizers, loss.classifier.weight)[1]["weight_decay"] == 1e-2
