"""CUDA checks (``pytest -m gpu``; skipped without a CUDA device). Run by scripts/gpu_check.sh."""

from __future__ import annotations

import warnings

import pytest
import torch

from modbench.engine import backend
from modbench.engine.augment import crop_flip, crop_windows, draw_augment, pad_nhwc
from modbench.engine.device_data import DeviceData
from modbench.engine.loop import StepParts, place, plan_epoch, train_epoch

from .conftest import tiny_splits
from .test_loop import TRAIN_CFG, FlakyLoss, Net

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
CUDA = torch.device("cuda")


def cuda_parts(loss_fn, compile=False):
    torch.manual_seed(0)
    model = Net()
    place(model, loss_fn, CUDA)
    opt = torch.optim.Adam([*model.parameters(), *loss_fn.parameters()], lr=1e-2, fused=True)
    return StepParts.create(model, loss_fn, opt, CUDA, compile=compile)


def test_bf16_step_gives_a_finite_float32_loss():
    backend.configure(CUDA)
    data = DeviceData(tiny_splits("crop-flip", n=64), CUDA)
    parts = cuda_parts(FlakyLoss(-1, "loss"))
    assert parts.amp and parts.channels_last
    images = data.train_batch(torch.arange(8, device=CUDA))
    with torch.autocast("cuda", dtype=torch.bfloat16):
        emb = parts.forward(images.contiguous(memory_format=torch.channels_last))
    assert emb.dtype == torch.bfloat16  # the network ran in bf16
    loss = parts.loss_fn(emb.float(), data.train_y[:8])
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    result = train_epoch(parts, data, plan_epoch(data, TRAIN_CFG, torch.Generator().manual_seed(0)))
    assert result.bad_step is None and result.steps == 8 and result.train_loss == result.train_loss


def test_no_host_sync_inside_the_steps():
    data = DeviceData(tiny_splits("crop-flip", n=160), CUDA)  # 20 steps of 8
    parts = cuda_parts(FlakyLoss(-1, "loss"))
    plan = plan_epoch(data, TRAIN_CFG, torch.Generator().manual_seed(0))
    train_epoch(parts, data, plan, check_every=100)  # warm-up (allocator, cuDNN autotuning)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            train_epoch(parts, data, plan, check_every=100)  # one check, at the last step
    finally:
        torch.cuda.set_sync_debug_mode(0)
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    assert len(syncs) <= 4, [str(w.message) for w in syncs]  # the final check only, not 20 steps


def test_non_finite_step_found_on_cuda():
    data = DeviceData(tiny_splits(n=80), CUDA)
    parts = cuda_parts(FlakyLoss(bad_call=3, mode="grad"))
    result = train_epoch(parts, data, plan_epoch(data, TRAIN_CFG, torch.Generator().manual_seed(0)), check_every=25)
    assert result.bad_step == 3


def test_same_draws_same_crops_on_cpu_and_cuda():
    images = torch.randint(0, 256, (20, 3, 8, 8), dtype=torch.uint8)
    idx = torch.arange(20).flip(0)
    d = draw_augment("crop-flip", 1, 20, torch.Generator().manual_seed(4))
    cpu = crop_flip(pad_nhwc(images), idx, *crop_windows(d.dy[0], d.dx[0], d.flip[0], (8, 8)))
    rows, cols = crop_windows(d.dy[0].cuda(), d.dx[0].cuda(), d.flip[0].cuda(), (8, 8))
    gpu = crop_flip(pad_nhwc(images.cuda()), idx.cuda(), rows, cols)
    assert torch.equal(cpu, gpu.cpu())


def test_metrics_agree_on_cpu_and_cuda():
    from modbench.metrics import compute_metrics

    g = torch.Generator().manual_seed(0)
    labels = torch.arange(8).repeat_interleave(25)
    emb = torch.randn(8, 16, generator=g)[labels] + 0.8 * torch.randn(200, 16, generator=g)
    names = ["recall@1", "recall@4", "map@r", "p@1", "nmi", "f1"]
    on_cpu = compute_metrics(emb, labels, names, device="cpu", backend="torch")
    on_gpu = compute_metrics(emb.cuda(), labels, names, device="cuda", backend="torch")
    for name in names:
        assert on_gpu.values[name] == pytest.approx(on_cpu.values[name], abs=1e-6), name


def test_compiled_step_trains():
    data = DeviceData(tiny_splits("crop-flip", n=64), CUDA)
    parts = cuda_parts(FlakyLoss(-1, "loss"), compile=True)
    first = train_epoch(parts, data, plan_epoch(data, TRAIN_CFG, torch.Generator().manual_seed(0)))
    for epoch in range(1, 10):
        last = train_epoch(parts, data, plan_epoch(data, TRAIN_CFG, torch.Generator().manual_seed(epoch)))
    assert first.bad_step is None and last.train_loss < first.train_loss
