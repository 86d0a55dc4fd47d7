"""The optimizers of a run, built in one place from the suite and the loss's declared groups.

``build_optimizers(model, loss_module, train_cfg)`` gives the optimizers and a JSON description
of every parameter group (which parameters, optimizer, lr, weight_decay, momentum/betas, where
the setting comes from), for result.json:

- ``network``: the backbone and embedding head, with the suite's optimizer, learning rate and
  weight decay;
- the loss's own parameters, as the loss declares them in ``param_groups()`` (see
  ``modbench/losses/base.py``): e.g. the margin loss's beta with its own SGD (Wu et al. 2017),
  ProxyNCA's proxies at 100x the learning rate. A setting left ``None`` takes the suite's. A loss
  without ``param_groups()`` (a user's) gets one group at the suite's optimizer and learning
  rate, without weight decay (loss parameters are never decayed unless the suite says so).

``train.weight_decay_on`` says which parameters ``train.weight_decay`` decays: ``backbone``
(default) the ``network`` group only, as above, because a classifier's or a proxy's norm sets the
loss's scale (decaying it changes what the loss computes, not only how the network
generalises); ``all`` every group whose loss sets no ``weight_decay`` of its own, as a plain
PyTorch script with one optimizer over all parameters does.

Groups with the suite's optimizer share one optimizer instance; a group with another optimizer
gets its own (Wu et al.'s separate ``trainer_beta``). ``Optimizers`` steps them together, for an
engine written for one optimizer.
"""

from __future__ import annotations

from typing import Any

import torch

_KINDS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}


def _hyper(kind: str, train_cfg: dict[str, Any], momentum: float | None) -> dict[str, Any]:
    if kind in ("adam", "adamw"):
        return {"betas": tuple(train_cfg.get("betas", (0.9, 0.999)))}
    if kind == "sgd":
        return {"momentum": float(train_cfg.get("momentum", 0.0) if momentum is None else momentum)}
    raise ValueError(f"unknown optimizer '{kind}' (choices: {', '.join(_KINDS)})")


def _make(kind: str, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    cls = _KINDS[kind]
    try:  # one fused kernel per step instead of ~10 small ops per parameter tensor
        return cls(groups, fused=True)
    except (RuntimeError, TypeError, ValueError):  # no fused version for these tensors here
        return cls(groups)


def loss_groups(loss_module: torch.nn.Module) -> dict[str, dict[str, Any]]:
    """The loss's declared groups, or one default group for every trainable loss parameter."""
    if hasattr(loss_module, "param_groups"):
        return loss_module.param_groups()
    params = [p for p in loss_module.parameters() if p.requires_grad]
    if not params:
        return {}
    return {"loss": {"params": params, "weight_decay": 0.0, "source": "default: no decay"}}


def _decay_all(declared: dict[str, dict[str, Any]], weight_decay: float) -> dict[str, dict[str, Any]]:
    """``train.weight_decay_on: all``: every group the loss left undecayed takes the suite's
    weight decay, as one optimizer over all parameters in a plain PyTorch script would; a group
    whose loss sets its own ``weight_decay`` (> 0) keeps it."""
    out = {}
    for name, g in declared.items():
        if name != "network" and float(g.get("weight_decay", 0.0)) == 0.0:
            source = g.get("source", "")
            g = {**g, "weight_decay": weight_decay,
                 "source": f"{source}; weight decay: suite (train.weight_decay_on: all)" if source
                 else "weight decay: suite (train.weight_decay_on: all)"}
        out[name] = g
    return out


def build_optimizers(
    model: torch.nn.Module, loss_module: torch.nn.Module, train_cfg: dict[str, Any]
) -> tuple[list[torch.optim.Optimizer], list[dict[str, Any]]]:
    """The run's optimizers (the suite's first) and the description of every parameter group."""
    suite_kind, suite_lr = train_cfg["optimizer"], float(train_cfg["lr"])
    names = {id(p): f"model.{n}" for n, p in model.named_parameters()}
    names.update({id(p): f"loss.{n}" for n, p in loss_module.named_parameters()})
    network = [p for p in model.parameters() if p.requires_grad]
    frozen = sum(1 for p in model.parameters() if not p.requires_grad)  # e.g. freeze_bn's BatchNorm affines
    declared = {
        "network": {
            "params": network,
            "weight_decay": float(train_cfg["weight_decay"]),
            "source": "suite (train)",
        },
        **loss_groups(loss_module),
    }
    if train_cfg.get("weight_decay_on", "backbone") == "all":
        declared = _decay_all(declared, float(train_cfg["weight_decay"]))
    seen: set[int] = set()
    if suite_kind not in _KINDS:
        raise ValueError(f"unknown optimizer '{suite_kind}' (choices: {', '.join(_KINDS)})")
    by_kind: dict[str, list[dict[str, Any]]] = {suite_kind: []}
    separate: list[tuple[str, dict[str, Any]]] = []
    described: list[dict[str, Any]] = []
    for name, g in declared.items():
        params = [p for p in g["params"] if id(p) not in seen]
        if not params:
            continue
        seen.update(id(p) for p in params)
        kind = g.get("optimizer") or suite_kind
        lr = g.get("lr")
        lr = suite_lr * float(g.get("lr_multiplier", 1.0)) if lr is None else float(lr)
        torch_group = {"params": params, "lr": lr, "weight_decay": float(g.get("weight_decay", 0.0)),
                       **_hyper(kind, train_cfg, g.get("momentum"))}
        if kind == suite_kind:
            by_kind[suite_kind].append(torch_group)
            index = 0
        else:
            separate.append((kind, torch_group))
            index = len(separate)  # after the suite's optimizer
        info = {"group": name, "optimizer": kind, "optimizer_index": index, "lr": lr,
                "weight_decay": torch_group["weight_decay"],
                "tensors": len(params), "numel": sum(p.numel() for p in params),
                "parameters": (["model.*"] + ([f"except {frozen} frozen tensors"] if frozen else []))
                if name == "network" else [names.get(id(p), "?") for p in params],
                "source": g.get("source", "")}
        info.update({k: (list(v) if isinstance(v, tuple) else v) for k, v in torch_group.items()
                     if k in ("momentum", "betas")})
        described.append(info)
    if not by_kind[suite_kind]:  # nothing trains with the suite's optimizer: renumber
        for info in described:
            info["optimizer_index"] -= 1
    optimizers = [_make(suite_kind, by_kind[suite_kind])] if by_kind[suite_kind] else []
    optimizers += [_make(kind, [torch_group]) for kind, torch_group in separate]
    return optimizers, described


class Optimizers:
    """Several optimizers stepped as one (the engine's ``optimizer``): ``param_groups``,
    ``zero_grad``, ``step``, ``state_dict`` and ``load_state_dict`` cover them all."""

    def __init__(self, optimizers: list[torch.optim.Optimizer]):
        self.optimizers = list(optimizers)

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return [g for opt in self.optimizers for g in opt.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for opt in self.optimizers:
            opt.step()

    def state_dict(self) -> dict[str, Any]:
        return {"optimizers": [opt.state_dict() for opt in self.optimizers]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        states = state["optimizers"] if "optimizers" in state else [state]
        if len(states) != len(self.optimizers):
            raise ValueError(f"checkpoint holds {len(states)} optimizer states, the run has {len(self.optimizers)}")
        for opt, s in zip(self.optimizers, states):
            opt.load_state_dict(s)
