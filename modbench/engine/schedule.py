"""The learning-rate schedule of a run (``train.scheduler``), built from torch's own schedulers.

``build_schedulers(optimizers, train_cfg, steps_per_epoch)`` gives one scheduler per optimizer
(the same schedule for each) and a JSON description of it for result.json. Every scheduler is
stepped after every optimizer step (per batch, not per epoch); settings given in epochs
(``warmup_epochs``, ``step_size``) are turned into steps with the run's steps per epoch.

torch's schedulers multiply each parameter group's own learning rate by the same factor, so a
group at 100x the suite's rate (proxies) stays at 100x all through training.

- ``constant``: the rate as written (no scheduler at all unless there is a warm-up);
- ``cosine``: ``CosineAnnealingLR`` from the rate down to 0 over the steps after the warm-up;
- ``step``: ``StepLR``, the rate times ``gamma`` (default 0.1) every ``step_size`` epochs,
  counted from the end of the warm-up;
- ``onecycle``: ``OneCycleLR`` with each group's rate as its peak, reached after
  ``warmup_epochs`` (``pct_start``), cosine annealing on both sides (torch's defaults:
  start at peak / 25, end at start / 10^4); momentum is not cycled (only the learning rate
  is scheduled, for every optimizer alike).

A warm-up (``warmup_epochs`` > 0, other than onecycle) is ``LinearLR`` from rate / (W + 1) to
the rate over its W steps (step t at (t + 1) / (W + 1) of the rate), followed by the schedule
through ``SequentialLR``.

A scheduler's state is saved in each checkpoint and loaded on resume, after the optimizers'.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.optim import lr_scheduler

STEP_GAMMA = 0.1  # StepLR's decay factor when train.gamma is not given (torch's own default)


def schedule_steps(train_cfg: dict[str, Any], steps_per_epoch: int) -> dict[str, int]:
    """The schedule's lengths in optimizer steps: total, warm-up and (step) decay interval."""
    total = int(train_cfg["epochs"]) * steps_per_epoch
    warmup = round(float(train_cfg.get("warmup_epochs", 0.0)) * steps_per_epoch)
    out = {"total": total, "warmup": min(warmup, total)}
    if train_cfg.get("scheduler") == "step":
        out["step_size"] = int(train_cfg["step_size"]) * steps_per_epoch
    return out


def _one(optimizer: torch.optim.Optimizer, kind: str, train_cfg: dict[str, Any], steps: dict[str, int]):
    total, warmup = steps["total"], steps["warmup"]
    if kind == "onecycle":
        return lr_scheduler.OneCycleLR(
            optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], total_steps=max(total, 1),
            pct_start=warmup / max(total, 1), cycle_momentum=False,
        )
    main = None
    if kind == "cosine":
        main = lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total - warmup, 1), eta_min=0.0)
    elif kind == "step":
        gamma = train_cfg.get("gamma")
        main = lr_scheduler.StepLR(optimizer, step_size=steps["step_size"],
                                   gamma=STEP_GAMMA if gamma is None else float(gamma))
    elif kind != "constant":
        raise ValueError(f"unknown scheduler '{kind}' (choices: constant, cosine, step, onecycle)")
    if warmup == 0:
        return main
    warm = lr_scheduler.LinearLR(optimizer, start_factor=1.0 / (warmup + 1), end_factor=1.0, total_iters=warmup)
    if main is None:
        return warm  # constant after the warm-up: LinearLR stays at the end factor
    return lr_scheduler.SequentialLR(optimizer, [warm, main], milestones=[warmup])


def build_schedulers(
    optimizers: list[torch.optim.Optimizer], train_cfg: dict[str, Any], steps_per_epoch: int
) -> tuple[list[Any], dict[str, Any]]:
    """One scheduler per optimizer (none for a constant rate without warm-up) and the schedule's
    description for result.json. Call right after building the optimizers."""
    kind = train_cfg.get("scheduler", "constant")
    steps = schedule_steps(train_cfg, steps_per_epoch)
    description: dict[str, Any] = {
        "scheduler": kind,
        "warmup_epochs": float(train_cfg.get("warmup_epochs", 0.0)),
        "stepped": "after every optimizer step",
        "steps_per_epoch": steps_per_epoch,
        "total_steps": steps["total"],
        "warmup_steps": steps["warmup"],
    }
    if kind == "step":
        gamma = train_cfg.get("gamma")
        description.update(step_size_epochs=int(train_cfg["step_size"]), step_size_steps=steps["step_size"],
                           gamma=STEP_GAMMA if gamma is None else float(gamma))
    schedulers = [s for s in (_one(opt, kind, train_cfg, steps) for opt in optimizers) if s is not None]
    description["torch"] = _describe(schedulers[0]) if schedulers else "none (constant learning rate)"
    return schedulers, description


def _describe(scheduler: Any) -> str:
    """The torch scheduler(s) by class name, e.g. ``SequentialLR(LinearLR, CosineAnnealingLR)``."""
    inner = getattr(scheduler, "_schedulers", None)
    name = type(scheduler).__name__
    return f"{name}({', '.join(type(s).__name__ for s in inner)})" if inner else name
