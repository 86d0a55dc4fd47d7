"""The epoch loop: plans, non-finite detection at the exact step, throttled progress."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from modbench.engine import loop
from modbench.engine.device_data import DeviceData
from modbench.engine.events import Observer
from modbench.engine.loop import StepParts, place, plan_epoch, train_epoch

from .conftest import tiny_splits

TRAIN_CFG = {"batch_size": 8, "sampler": "random", "m": 4}


class Net(nn.Module):
    def __init__(self, channels=3, dim=6):
        super().__init__()
        self.conv = nn.Conv2d(channels, 4, 3, padding=1)
        self.head = nn.Linear(4, dim)

    def forward(self, x):
        return self.head(self.conv(x).mean((2, 3)))


class FlakyLoss(nn.Module):
    """Cross-entropy on a linear classifier that goes bad on call ``bad_call`` (0-based):
    ``mode="loss"`` gives a NaN loss, ``mode="grad"`` a finite loss with a NaN gradient."""

    def __init__(self, bad_call: int, mode: str, dim=6, classes=4):
        super().__init__()
        self.classifier = nn.Linear(dim, classes)
        self.calls, self.bad_call, self.mode = 0, bad_call, mode

    def forward(self, emb, labels):
        loss = nn.functional.cross_entropy(self.classifier(emb), labels)
        bad = self.calls == self.bad_call
        self.calls += 1
        if bad and self.mode == "loss":
            return loss * float("nan")
        if bad and self.mode == "grad":
            zero = emb[:, :1] - emb[:, :1].detach()  # value 0, gradient 1
            return loss + zero.abs().sqrt().sum()  # d sqrt(|u|)/du at 0 is not finite
        return loss


def make_parts(loss_fn, device=torch.device("cpu")):
    torch.manual_seed(0)
    model = Net()
    place(model, loss_fn, device)
    opt = torch.optim.Adam([*model.parameters(), *loss_fn.parameters()], lr=1e-2)
    return StepParts.create(model, loss_fn, opt, device)


def test_plan_holds_the_epoch_on_the_device():
    data = DeviceData(tiny_splits("crop-flip", n=48), torch.device("cpu"))
    plan = plan_epoch(data, TRAIN_CFG, torch.Generator().manual_seed(0))
    assert plan.batches.shape == plan.labels.shape == (6, 8)
    assert plan.rows.shape == plan.cols.shape == (6, 8, 8)
    assert torch.equal(plan.labels, data.train_y[plan.batches])
    again = plan_epoch(data, TRAIN_CFG, torch.Generator().manual_seed(0))
    assert torch.equal(plan.batches, again.batches) and torch.equal(plan.cols, again.cols)


@pytest.mark.parametrize("mode", ["loss", "grad"])
@pytest.mark.parametrize("check_every", [1, 4])
def test_first_non_finite_step_is_reported_exactly(mode, check_every):
    data = DeviceData(tiny_splits(n=80), torch.device("cpu"))  # 10 steps of 8
    plan = plan_epoch(data, TRAIN_CFG, torch.Generator().manual_seed(0))
    parts = make_parts(FlakyLoss(bad_call=5, mode=mode))
    result = train_epoch(parts, data, plan, check_every=check_every)
    assert result.bad_step == 5
    assert result.steps == (6 if check_every == 1 else 8)  # stopped at the first check after it


def test_finite_epoch_runs_every_step_and_learns():
    data = DeviceData(tiny_splits(n=80), torch.device("cpu"))
    parts = make_parts(FlakyLoss(bad_call=-1, mode="loss"))
    losses = []
    for epoch in range(15):
        plan = plan_epoch(data, TRAIN_CFG, torch.Generator().manual_seed(epoch))
        result = train_epoch(parts, data, plan)
        assert result.bad_step is None and result.steps == 10 and result.images == 80
        losses.append(result.train_loss)
    assert losses[-1] < losses[0]  # random images, but 80 of them can be memorised


class Recorder(Observer):
    def __init__(self):
        self.steps = []

    def batch_end(self, *, step, loss, images_per_s):
        assert loss == loss and images_per_s > 0
        self.steps.append(step)


@pytest.mark.parametrize("seconds,expected", [(1e9, [10]), (0.0, list(range(1, 11)))])
def test_progress_reports_are_throttled(monkeypatch, seconds, expected):
    monkeypatch.setattr(loop, "REPORT_SECONDS", seconds)
    data = DeviceData(tiny_splits(n=80), torch.device("cpu"))
    plan = plan_epoch(data, TRAIN_CFG, torch.Generator().manual_seed(0))
    rec = Recorder()
    train_epoch(make_parts(FlakyLoss(-1, "loss")), data, plan, observer=rec)
    assert rec.steps == expected  # with a long interval: only the epoch's last step
