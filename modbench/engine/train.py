"""One training run, read top to bottom: build, resume, train epoch by epoch, evaluate, record.

Reproducibility: the model is built right after ``torch.manual_seed(seed)``, and each epoch draws
its batches, crops and dropout from generators seeded by (seed, epoch). A run resumed from the
checkpoint of epoch k therefore continues exactly as the uninterrupted run would have.

One epoch's training steps are ``loop.run_epoch`` (seeding, ``plan_epoch``, ``train_epoch``), the
same function ``benchmarks/train_speed.py`` times; this file builds, resumes, validates, saves.
"""

from __future__ import annotations

import datetime as _dt
import time
from typing import Any

import torch

from modbench import testhooks
from modbench.cache.store import CorruptFile, RunDir
from modbench.engine import distributed
from modbench.engine.data import DeviceData
from modbench.engine.evaluate import embed, evaluate_embeddings
from modbench.engine.events import Observer, corrupt_notice
from modbench.engine.loop import StepParts, epoch_seed, place, run_epoch  # noqa: F401 (epoch_seed: API)
from modbench.engine.model import EmbeddingNet, build_model
from modbench.engine.sampler import steps_per_epoch
from modbench.engine.versions import package_versions
from modbench.errors import RunError


class RunFailed(RunError):
    """Training stopped: a non-finite loss or gradient. Recorded in ``failed.json``."""

    def __init__(self, epoch: int, step: int, reason: str):
        self.epoch, self.step, self.reason = epoch, step, reason
        super().__init__(f"failed at epoch {epoch}, step {step}: {reason}")


def build_loss(loss_cfg: dict[str, Any], *, num_classes: int, embedding_dim: int, params=None) -> torch.nn.Module:
    """``params``: the loss's validated parameter model (``RunSpec.params``); validated from
    ``loss_cfg["params"]`` only when not given (a run that came through a pickle, a bare dict)."""
    from modbench.losses import resolve_loss

    spec = resolve_loss(loss_cfg["name"])
    if params is None:
        params = spec.params.model_validate(loss_cfg["params"])
    return spec.build(params, num_classes, embedding_dim)


def build_optimizer(train_cfg: dict[str, Any], model: torch.nn.Module, loss: torch.nn.Module):
    """The run's optimizers as one (``engine/optim.py`` builds the groups: the network at the
    suite's settings, the loss's own parameters as the loss declares them)."""
    from modbench.engine.optim import Optimizers, build_optimizers

    optimizers, groups = build_optimizers(model, loss, train_cfg)
    combined = Optimizers(optimizers)
    combined.groups = groups  # JSON description of every group, for result.json
    return combined


def train_run(
    run,
    run_dir: RunDir,
    data: DeviceData,
    *,
    eval_cfg: dict[str, Any],
    observer: Observer | None = None,
) -> dict[str, Any]:
    """Train (or resume) one run and write its result. Returns the result record."""
    observer = observer or Observer()
    cfg = run.config
    train_cfg = cfg["train"]
    device = data.device
    dist = distributed.current().for_run(cfg)  # under torchrun: this rank's share (no-ops otherwise)

    # -- build: same initial weights for every loss of a seed --------------------------------
    torch.manual_seed(run.seed)
    splits = data.splits
    model = build_model(cfg["backbone"], in_channels=splits.channels, image_size=splits.image_size)
    loss_fn = build_loss(
        cfg["loss"], num_classes=splits.num_classes, embedding_dim=cfg["backbone"]["embedding_dim"],
        params=getattr(run, "params", None),
    )
    place(model, loss_fn, device)
    optimizer = build_optimizer(train_cfg, model, loss_fn)
    parts = StepParts.create(model, loss_fn, optimizer, device, compile=train_cfg.get("compile", False), dist=dist)

    # -- resume ----------------------------------------------------------------------------
    start_epoch, history, train_seconds = 0, [], 0.0
    best_score = float("-inf")
    try:
        state = run_dir.load_checkpoint(map_location=str(device))
    except CorruptFile as exc:  # truncated, altered or unsafe: never used, trained again
        observer.message(corrupt_notice(run, exc, "training it again from the start"))
        run_dir.clear()
        state = None
    if state is not None:
        model.load_state_dict(state["model"])
        loss_fn.load_state_dict(state["loss"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch = int(state["epoch"])
        history = list(state["history"])
        train_seconds = float(state.get("train_seconds", 0.0))
        best_score = float(state.get("best_score", float("-inf")))
        run_dir.write_history(history)  # a kill between checkpoint and history left it behind
    run_dir.write_config(cfg)

    epochs = train_cfg["epochs"]
    steps = steps_per_epoch(
        len(data.train_y), batch_size=train_cfg["batch_size"], sampler=train_cfg["sampler"], m=train_cfg["m"]
    )
    observer.run_start(run, start_epoch=start_epoch, epochs=epochs, steps_per_epoch=steps)
    val_metrics = list(eval_cfg["val_metrics"])
    if train_cfg["select"] == "best-val" and "recall@1" not in val_metrics:
        val_metrics.append("recall@1")  # best-val selects on validation Recall@1

    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        trained = run_epoch(parts, data, train_cfg, seed=run.seed, epoch=epoch, observer=observer)
        if trained.bad_step is not None:
            reason = "non-finite loss or gradient"
            run_dir.write_failed(
                {"epoch": epoch + 1, "step": trained.bad_step + 1, "reason": reason,
                 "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
            )
            observer.run_end(run, status="failed")
            raise RunFailed(epoch + 1, trained.bad_step + 1, reason)
        # -- validation (rank 0 only under torchrun) ------------------------------------------
        val = distributed.NO_METRICS
        if dist.is_main:
            val_emb = embed(model, data.val_x, data)
            testhooks.reached("validation")  # test-only kill point (modbench/testhooks.py)
            val = evaluate_embeddings(val_emb, data.val_y, val_metrics, eval_cfg, strict=False)
        elapsed = time.perf_counter() - t0
        train_seconds += elapsed
        record = {
            "epoch": epoch + 1,
            "train_loss": trained.train_loss,
            "val": val.values,
            "seconds": round(elapsed, 3),
            "images_per_s": round(trained.images / max(elapsed, 1e-9), 1),
        }
        history.append(record)
        score = val.values.get("recall@1", float("nan"))
        improved = score == score and score > best_score  # NaN never improves
        if improved:
            best_score = score
        state = {
            "model": model.state_dict(),
            "loss": loss_fn.state_dict(),
            "optimizer": optimizer.state_dict(),
            "epoch": epoch + 1,
            "history": history,
            "train_seconds": train_seconds,
            "best_score": best_score,
            "world_size": dist.world_size,
        }
        if train_cfg["select"] == "best-val" and improved:
            run_dir.save_checkpoint({**state, "best_epoch": epoch + 1}, best=True)
        run_dir.save_checkpoint(state)
        run_dir.write_history(history)
        testhooks.reached("after-checkpoint")
        observer.epoch_end(epoch=epoch + 1, record=record)

    result = evaluate_run(run, run_dir, data, eval_cfg=eval_cfg, model=model) if dist.is_main else None
    observer.run_end(run, status="done")
    return result


def evaluate_run(
    run,
    run_dir: RunDir,
    data: DeviceData,
    *,
    eval_cfg: dict[str, Any],
    model: EmbeddingNet | None = None,
) -> dict[str, Any]:
    """Test-set metrics of a finished run (last or best-validation checkpoint), written to
    ``result.json``. Rebuilds the model from the checkpoint when none is given."""
    cfg = run.config
    select = cfg["train"]["select"]
    state = run_dir.load_checkpoint(best=select == "best-val", map_location=str(data.device))
    if state is None:
        raise RunError(f"run {run.key}: no checkpoint to evaluate")
    if model is None or select == "best-val":
        torch.manual_seed(run.seed)
        model = build_model(
            cfg["backbone"], in_channels=data.splits.channels, image_size=data.splits.image_size
        )
        model.load_state_dict(state["model"])
        model.to(data.device)
    last = run_dir.load_checkpoint(map_location="cpu") if select == "best-val" else state
    test_emb = embed(model, data.test_x, data)
    testhooks.reached("evaluation")
    measured = evaluate_embeddings(test_emb, data.test_y, eval_cfg["metrics"], eval_cfg, strict=False)
    result = {
        "key": run.key,
        "config": cfg,
        "metrics": measured.values,
        "metric_info": measured.info,
        "eval": dict(eval_cfg),
        "checkpoint": {"select": select, "epoch": int(state.get("best_epoch", state["epoch"]))},
        "epochs": int(last["epoch"]),
        "train_seconds": round(float(last.get("train_seconds", 0.0)), 3),
        "device": str(data.device),
        "world_size": int(last.get("world_size", 1)),  # processes of the last epoch (torchrun)
        # CPU results depend on the intra-op thread count (reductions split differently).
        "cpu_threads": torch.get_num_threads(),
        "data": {**data.splits.sizes(), "info": data.splits.info},
        "versions": package_versions(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    run_dir.write_result(result)
    return result
