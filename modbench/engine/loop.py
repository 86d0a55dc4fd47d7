"""One training epoch: its random draws (``plan_epoch``), then its steps (``train_epoch``).

``train_run`` (train.py) calls these once per epoch, and ``benchmarks/train_speed.py`` times the
very same functions, so the benchmark measures the loop ``modbench train`` runs.

What a step does, in order: gather the batch's uint8 images from the split on the device (crop
and flip in the same gather), convert and normalise them there, forward under bf16 autocast on
CUDA (channels-last layout), the loss in float32, backward, record loss and gradient norm into
per-epoch device tensors, optimizer step, learning-rate scheduler step. Nothing in a step waits for the device: finiteness is
checked every ``check_every`` steps (every step on the CPU, where checking costs no sync), and
the first non-finite step of the window is reported exactly.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from modbench.engine import backend, distributed
from modbench.engine.augment import crop_windows, draw_augment
from modbench.engine.device_data import DeviceData
from modbench.engine.events import Observer
from modbench.engine.sampler import epoch_batches

CUDA_CHECK_EVERY = 25  # steps between two finiteness checks on CUDA (each one is a host sync)
REPORT_SECONDS = 0.25  # least time between two progress reports to the observer


def epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7_919 + 17) % (2**62)


@dataclass
class EpochPlan:
    """Everything random about one epoch's batches, on the device: [steps, batch] each."""

    batches: torch.Tensor  # int64 indices into the training split
    labels: torch.Tensor  # int64 labels of those images
    global_batch: int = 0  # images per step over all processes (torchrun); 0: batches' width
    rows: torch.Tensor | None = None  # [steps, batch, H] rows each crop reads (None: no augmentation)
    cols: torch.Tensor | None = None  # [steps, batch, W] columns, right to left when flipped

    @property
    def steps(self) -> int:
        return int(self.batches.shape[0])

    @property
    def batch_size(self) -> int:
        return int(self.batches.shape[1])

    def shard(self, dist: distributed.Dist) -> EpochPlan:
        """This rank's contiguous slice of every global batch (columns), under torchrun: the same
        images, crops and flips that slicing the augmented global batch would give."""
        if not dist.enabled:
            return self
        per = self.batch_size // dist.world_size
        cols = slice(dist.rank * per, (dist.rank + 1) * per)
        return EpochPlan(
            self.batches[:, cols], self.labels[:, cols], self.batch_size,
            None if self.rows is None else self.rows[:, cols],
            None if self.cols is None else self.cols[:, cols],
        )


def plan_epoch(data: DeviceData, train_cfg: dict[str, Any], generator: torch.Generator) -> EpochPlan:
    """Draw the epoch's batches (sampler), then its crops and flips, from ``generator`` (CPU);
    move them to the device in one copy each and turn them into crop windows there."""
    batches = epoch_batches(
        data.train_y_cpu, batch_size=train_cfg["batch_size"], sampler=train_cfg["sampler"],
        m=train_cfg["m"], generator=generator,
    )
    draws = draw_augment(data.augment, batches.shape[0], batches.shape[1], generator)
    device = data.device
    batches = batches.to(device)
    plan = EpochPlan(batches=batches, labels=data.train_y[batches])
    if draws is not None:
        draws = draws.to(device)
        plan.rows, plan.cols = crop_windows(draws.dy, draws.dx, draws.flip, data.image_size)
    return plan


@dataclass
class StepParts:
    """What a training step uses. ``model`` holds the weights (saved, evaluated); ``forward`` is
    the same model as the step calls it (``torch.compile``d with ``train.compile: true``).
    ``optimizers``: every optimizer of the run (e.g. one for the network and one for a loss
    parameter trained as its paper does), each zeroed and stepped every step."""

    model: torch.nn.Module
    loss_fn: torch.nn.Module
    optimizers: list[torch.optim.Optimizer]
    device: torch.device
    forward: torch.nn.Module
    amp: bool  # bf16 autocast around the network (CUDA)
    channels_last: bool
    params: list[torch.Tensor]  # every tensor the optimizer updates (for the gradient check)
    dist: distributed.Dist = distributed.SINGLE  # this process's share of the run under torchrun
    # Learning-rate schedulers (engine/schedule.py), each stepped after every optimizer step.
    schedulers: list = field(default_factory=list)

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The first optimizer (the only one unless a loss trains a parameter on its own)."""
        return self.optimizers[0]

    @classmethod
    def create(cls, model, loss_fn, optimizer, device: torch.device, *, compile: bool = False,
               dist: distributed.Dist = distributed.SINGLE) -> StepParts:
        """``optimizer``: one optimizer or a list of them."""
        optimizers = list(optimizer) if isinstance(optimizer, (list, tuple)) else [optimizer]
        params = [p for opt in optimizers for g in opt.param_groups for p in g["params"]]
        forward = dist.wrap_model(model)  # DDP under torchrun
        return cls(
            model=model, loss_fn=loss_fn, optimizers=optimizers, device=device,
            forward=torch.compile(forward) if compile else forward,
            amp=device.type == "cuda", channels_last=backend.channels_last(device), params=params,
            dist=dist,
        )


def place(model: torch.nn.Module, loss_fn: torch.nn.Module, device: torch.device) -> None:
    """Move model and loss to ``device`` in place (same Parameter objects), the model in the
    device's memory layout. Call before building the optimizer."""
    model.to(device)
    loss_fn.to(device)
    if backend.channels_last(device):
        model.to(memory_format=torch.channels_last)


def grad_norm(params: list[torch.Tensor]) -> torch.Tensor:
    """L2 norm of all gradients (one fused kernel per device on CUDA); non-finite iff a gradient
    entry is (or the norm overflows float32)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros((), device=params[0].device if params else None)
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def flag_non_finite_grads(params: list[torch.Tensor], flag: torch.Tensor, one: torch.Tensor) -> None:
    """Set ``flag`` (a one-element float32 tensor, 0 before) to 1 when any gradient holds an
    inf or a NaN, without a host sync. GradScaler's own check, with a scale of ``one`` (1.0):
    the gradients keep their values. One multi-tensor kernel on CUDA; on the CPU one cheap pass
    per tensor (about a third of the per-tensor norms of ``grad_norm``)."""
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for p in params:
        if p.grad is not None:
            by_dtype.setdefault(p.grad.dtype, []).append(p.grad)
    for grads in by_dtype.values():
        try:
            torch._amp_foreach_non_finite_check_and_unscale_(grads, flag, one)
        except (RuntimeError, NotImplementedError):  # an older torch without it on this device
            flag.add_((~torch.isfinite(grad_norm(params))).float().view_as(flag)).clamp_(max=1)


@dataclass
class EpochResult:
    steps: int  # steps run (all of the plan unless a non-finite step stopped the epoch)
    images: int
    train_loss: float  # mean loss over the steps run
    seconds: float
    bad_step: int | None = None  # 0-based step of the first non-finite loss or gradient
    # Why a loss loses (history.json): "train_accuracy" of a softmax-family loss's classifier
    # and "low_weight_share" (samples whose loss weight is < LOW_WEIGHT) where the loss defines
    # a per-sample weight; over the epoch's training samples as they were trained on.
    diagnostics: dict[str, float] = field(default_factory=dict)


LOW_WEIGHT = 1e-3


class _Diagnostics:
    """Per-epoch sums on the device, read back once at the epoch's end (no per-step sync)."""

    def __init__(self, loss_fn: torch.nn.Module, device: torch.device):
        classifier = getattr(loss_fn, "classifier", None)
        self.classifier = classifier if isinstance(classifier, torch.nn.Linear) else None
        self.weights = getattr(loss_fn, "sample_weights", None)
        self.enabled = self.classifier is not None or self.weights is not None
        self.sums = torch.zeros(3, device=device)  # samples, correct, low-weight samples

    def step(self, embeddings: torch.Tensor, labels: torch.Tensor) -> None:
        if not self.enabled:
            return
        with torch.no_grad():
            emb = embeddings.detach()
            self.sums[0] += labels.numel()
            if self.classifier is not None:
                self.sums[1] += (self.classifier(emb).argmax(dim=1) == labels).sum()
            if self.weights is not None:
                self.sums[2] += (self.weights(emb, labels).detach() < LOW_WEIGHT).sum()

    def result(self, dist: distributed.Dist) -> dict[str, float]:
        if not self.enabled:
            return {}
        if dist.gather_embeddings:  # every rank saw the whole global batch: its sums are the total
            n, correct, low = (float(v) for v in self.sums)
        else:  # each rank saw its slice: the total is the sum over ranks
            n, correct, low = (float(v) * dist.world_size for v in dist.mean(self.sums))
        out = {}
        if self.classifier is not None:
            out["train_accuracy"] = correct / max(n, 1.0)
        if self.weights is not None:
            out["low_weight_share"] = low / max(n, 1.0)
        return out


def _step(parts: StepParts, data: DeviceData, plan: EpochPlan, step: int, diagnostics: _Diagnostics) -> torch.Tensor:
    """One training step of ``plan``: batch, forward, loss in float32, backward, optimizer
    steps. Returns the loss (detached, still on the device); nothing here waits for it."""
    if plan.rows is not None:
        images = data.train_batch(plan.batches[step], plan.rows[step], plan.cols[step])
    else:
        images = data.train_batch(plan.batches[step])
    if parts.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)  # no-op after a crop
    with torch.autocast(parts.device.type, dtype=torch.bfloat16, enabled=parts.amp):
        embeddings = parts.forward(images)
    embeddings, labels = parts.dist.loss_inputs(embeddings, plan.labels[step])  # global batch if pair-based
    loss = parts.loss_fn(embeddings.float(), labels)  # losses always in float32
    diagnostics.step(embeddings.float(), labels)
    for opt in parts.optimizers:
        opt.zero_grad(set_to_none=True)
    loss.backward()
    parts.dist.sync_loss_grads(parts.loss_fn)
    return loss.detach()


def _first_bad(losses: torch.Tensor, grad_flags: torch.Tensor, start: int, stop: int) -> int | None:
    """The first step in [start, stop) whose loss or gradient was not finite, or None. A window
    of one step (every step on the CPU) costs two reads; a longer one one host sync (CUDA)."""
    if stop - start == 1:
        if math.isfinite(losses[start].item()) and grad_flags[start].item() == 0:
            return None
    window = torch.isfinite(losses[start:stop]) & (grad_flags[start:stop] == 0)
    if stop - start > 1 and bool(window.all()):
        return None
    return start + int(torch.nonzero(~window)[0])


def train_epoch(
    parts: StepParts,
    data: DeviceData,
    plan: EpochPlan,
    *,
    observer: Observer | None = None,
    check_every: int | None = None,
) -> EpochResult:
    """Run the steps of ``plan``; stops at the first check that finds a non-finite loss or
    gradient (``bad_step`` set), otherwise runs them all."""
    observer = observer or Observer()
    device = parts.device
    if check_every is None:
        check_every = CUDA_CHECK_EVERY if device.type == "cuda" else 1
    parts.model.train()
    parts.loss_fn.train()
    dist = parts.dist
    steps = plan.steps
    plan = plan.shard(dist)  # under torchrun: this rank's columns of each global batch
    batch = plan.global_batch or plan.batch_size  # images per step, all ranks together
    # Per step, read back only at checks: the loss, and 1 where a gradient was not finite.
    losses = torch.zeros(steps, device=device)
    grad_flags = torch.zeros(steps, device=device)
    one = torch.ones(1, device=device)
    diagnostics = _Diagnostics(parts.loss_fn, device)
    t0 = last_report = time.perf_counter()
    checked = reported = 0
    for step in range(steps):
        losses[step] = loss = _step(parts, data, plan, step, diagnostics)
        flag_non_finite_grads(parts.params, grad_flags[step : step + 1], one)
        for opt in parts.optimizers:
            opt.step()
        for scheduler in parts.schedulers:
            scheduler.step()
        last = step == steps - 1
        if not ((step + 1) % check_every == 0 or last):
            continue
        bad = _first_bad(losses, grad_flags, checked, step + 1)
        if bad is not None:
            return EpochResult(step + 1, (step + 1) * batch, _mean(losses, step + 1, dist),
                               time.perf_counter() - t0, bad_step=bad)
        checked = step + 1
        now = time.perf_counter()
        if last or now - last_report >= REPORT_SECONDS:
            observer.batch_end(
                step=step + 1, loss=float(loss),
                images_per_s=(step + 1 - reported) * batch / max(now - last_report, 1e-9),
            )
            last_report, reported = now, step + 1
    return EpochResult(steps, steps * batch, _mean(losses, steps, dist), time.perf_counter() - t0,
                       diagnostics=diagnostics.result(dist))


def run_epoch(
    parts: StepParts,
    data: DeviceData,
    train_cfg: dict[str, Any],
    *,
    seed: int,
    epoch: int,
    observer: Observer | None = None,
) -> EpochResult:
    """Epoch ``epoch`` (0-based) of a run with seed ``seed``: seed the generators from (seed,
    epoch), draw the plan, run its steps. What ``train_run`` does for each epoch before
    validating; a run resumed at epoch k therefore draws what the uninterrupted run would."""
    s = epoch_seed(seed, epoch)
    generator = torch.Generator().manual_seed(s)
    torch.manual_seed(s)  # dropout and anything else drawing from the global generator
    parts.dist.seed_rank(s)  # under torchrun: distinct dropout streams per rank
    return train_epoch(parts, data, plan_epoch(data, train_cfg, generator), observer=observer)


def _mean(losses: torch.Tensor, n: int, dist: distributed.Dist = distributed.SINGLE) -> float:
    """Mean loss of the first ``n`` steps (averaged over ranks under torchrun)."""
    return float(dist.mean(losses[:n].sum())) / max(n, 1)
