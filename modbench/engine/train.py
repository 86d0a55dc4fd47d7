"""One training run, read top to bottom: build, resume, train epoch by epoch, evaluate, record.

Reproducibility: the model is built right after ``torch.manual_seed(seed)``, and each epoch draws
its batches, crops and dropout from generators seeded by (seed, epoch). A run resumed from the
checkpoint of epoch k therefore continues exactly as the uninterrupted run would have.

One epoch's training steps are ``loop.run_epoch`` (seeding, ``plan_epoch``, ``train_epoch``), the
same function ``benchmarks/train_speed.py`` times; this file builds, resumes, validates, saves.

Every checkpoint, history record and result names its run (``key``) inside its checksummed
content, and records the numerics it was computed with (device, precision, CPU threads:
``backend.numerics``); a file of another run, or a checkpoint of other numerics, is never used.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import torch

from modbench.cache.store import CorruptFile, RunDir
from modbench.engine import backend, distributed, guard
from modbench.engine.device_data import DeviceData
from modbench.engine.evaluate import ACCURACY, classifier_accuracy, embed, run_metrics
from modbench.engine.events import Observer, corrupt_notice
from modbench.engine.loop import StepParts, place, run_epoch
from modbench.engine.model import EmbeddingNet, build_model, restored_model
from modbench.engine.optim import build_optimizers
from modbench.engine.sampler import steps_per_epoch
from modbench.engine.schedule import build_schedulers
from modbench.errors import ModbenchError, RunError, UserError
from modbench.identity import numerics_mismatch
from modbench.versions import package_versions

# Validation metrics of a rank that does not validate (its history is never written).
NO_METRICS = SimpleNamespace(values={}, info={})


class RunFailed(RunError):
    """Training stopped: a non-finite loss or gradient. Recorded in ``failed.json``."""

    def __init__(self, epoch: int, step: int, reason: str):
        self.epoch, self.step, self.reason = epoch, step, reason
        super().__init__(f"failed at epoch {epoch}, step {step}: {reason}")


class ResumeRefused(RunError):
    """The run's checkpoint was made with other numerics (device, precision, CPU threads)."""


def build_loss(loss_cfg: dict[str, Any], *, num_classes: int, embedding_dim: int, params=None,
               references=None) -> torch.nn.Module:
    """``params``: the loss's validated parameter model (``RunSpec.params``); validated from
    ``loss_cfg["params"]`` only when not given (a run that came through a pickle, a bare dict).
    ``references``: the suite's plugin references resolved at load (``RunSpec.references``)."""
    from modbench.losses import resolve_loss

    spec = resolve_loss(loss_cfg["name"], references)
    if params is None:
        params = spec.params.model_validate(loss_cfg["params"])
    return spec.build(params, num_classes, embedding_dim)


def loss_family(loss_cfg: dict[str, Any], references=None) -> str:
    """``references``: the suite's plugin references (``RunSpec.references``)."""
    from modbench.losses import resolve_loss

    return resolve_loss(loss_cfg["name"], references).family


def build_optimizer(train_cfg: dict[str, Any], model: torch.nn.Module, loss: torch.nn.Module):
    """The run's optimizers as one (``engine/optim.py`` builds the groups: the network at the
    suite's settings, the loss's own parameters as the loss declares them)."""
    from modbench.engine.optim import Optimizers, build_optimizers

    optimizers, groups = build_optimizers(model, loss, train_cfg)
    combined = Optimizers(optimizers)
    combined.groups = groups  # JSON description of every group, for result.json
    return combined


@dataclass
class RunState:
    """What a run carries from epoch to epoch (and what its checkpoint holds)."""

    start_epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    train_seconds: float = 0.0
    best_score: float = float("-inf")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _build(run, data: DeviceData, dist) -> tuple[StepParts, list[dict[str, Any]]]:
    """Model, loss and optimizers of ``run`` on the data's device, built right after seeding
    with the run's seed (same initial weights for every loss of a seed); and the optimizer
    groups' description."""
    cfg = run.config
    torch.manual_seed(run.seed)
    splits = data.splits
    references = getattr(run, "references", None)  # user files, resolved when the suite was loaded
    model = build_model(cfg["backbone"], in_channels=splits.channels, image_size=splits.image_size, references=references,
                        data_stats=(splits.mean, splits.std))
    loss_fn = build_loss(cfg["loss"], num_classes=splits.num_classes, embedding_dim=cfg["backbone"]["embedding_dim"],
                         params=getattr(run, "params", None), references=references)
    place(model, loss_fn, data.device)
    optimizers, groups = build_optimizers(model, loss_fn, cfg["train"])  # engine/optim.py: the one place
    compile_ = cfg["train"].get("compile", False)
    return StepParts.create(model, loss_fn, optimizers, data.device, compile=compile_, dist=dist,
                            precision=cfg["train"].get("precision", "float32")), groups


def _failed(run, run_dir: RunDir, epoch: int, step: int, observer: Observer) -> RunFailed:
    """Record a non-finite loss or gradient at (0-based) ``epoch`` and ``step``."""
    reason = "non-finite loss or gradient"
    run_dir.write_failed({"key": run.key, "epoch": epoch + 1, "step": step + 1, "reason": reason, "date": _now()})
    observer.run_end(run, status="failed")
    return RunFailed(epoch + 1, step + 1, reason)


def _resume(run, run_dir: RunDir, parts: StepParts, numerics: dict, observer: Observer) -> RunState:
    """The run's state after its last checkpoint (a fresh state without one). A damaged
    checkpoint or one of another run is reported and the run starts again; one made with other
    numerics raises ``ResumeRefused`` (it is kept for the settings that made it)."""
    try:
        state = run_dir.load_checkpoint(map_location=str(parts.device))
    except CorruptFile as exc:  # truncated, altered, unsafe or another run's: trained again
        observer.message(corrupt_notice(run, exc, "training it again from the start"))
        run_dir.clear()
        state = None
    if state is None:
        return RunState()
    why = numerics_mismatch(state.get("numerics"), numerics)
    if why is not None:
        raise ResumeRefused(why)
    parts.model.load_state_dict(state["model"])
    parts.loss_fn.load_state_dict(state["loss"])
    for opt, saved in zip(parts.optimizers, state["optimizer"]["optimizers"]):
        opt.load_state_dict(saved)
    saved_schedulers = state.get("schedulers") or []
    if len(saved_schedulers) != len(parts.schedulers):  # the key covers the schedule: never expected
        raise RunError(f"run {run.key}: the checkpoint holds {len(saved_schedulers)} scheduler states, "
                       f"the run has {len(parts.schedulers)}")
    for scheduler, saved in zip(parts.schedulers, saved_schedulers):
        scheduler.load_state_dict(saved)
    resumed = RunState(
        start_epoch=int(state["epoch"]),
        history=list(state["history"]),
        train_seconds=float(state.get("train_seconds", 0.0)),
        best_score=float(state.get("best_score", float("-inf"))),
    )
    run_dir.write_history(resumed.history)  # a kill between checkpoint and history left it behind
    return resumed


def _validate(parts: StepParts, data: DeviceData, val_metrics: list[str], eval_cfg: dict[str, Any], dist):
    """Validation metrics of the epoch's model (rank 0 only under torchrun)."""
    if not dist.is_main:
        return NO_METRICS
    val_emb = embed(parts.model, data.val_x, data)
    return run_metrics(val_emb, data.val_y, val_metrics, eval_cfg, strict=False)


def _end_epoch(run, run_dir: RunDir, parts: StepParts, state: RunState, record: dict[str, Any], *,
               select: str, numerics: dict, world_size: int) -> None:
    """Record the finished epoch: its checkpoint (and the best-validation one), then its history."""
    state.history.append(record)
    score = record["val"].get("recall@1", float("nan"))
    val_improved = score == score and score > state.best_score  # NaN never improves
    if val_improved:
        state.best_score = score
    checkpoint = {
        "key": run.key,
        "model": parts.model.state_dict(),
        "loss": parts.loss_fn.state_dict(),
        "optimizer": {"optimizers": [opt.state_dict() for opt in parts.optimizers]},  # as optim.Optimizers
        "schedulers": [scheduler.state_dict() for scheduler in parts.schedulers],
        "epoch": record["epoch"],
        "history": state.history,
        "train_seconds": state.train_seconds,
        "best_score": state.best_score,
        "world_size": world_size,
        "numerics": numerics,
    }
    if select == "best-val" and val_improved:
        run_dir.save_checkpoint({**checkpoint, "best_epoch": record["epoch"]}, best=True)
    run_dir.save_checkpoint(checkpoint)
    run_dir.write_history(state.history)


def train_run(
    run,
    run_dir: RunDir,
    data: DeviceData,
    *,
    eval_cfg: dict[str, Any],
    observer: Observer | None = None,
    numerics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train (or resume) one run and write its result. Returns the result record. An exception
    raised inside a user's loss or backbone becomes one ``UserCodeError`` line naming it, the
    run and the epoch (``engine/culprit.py``); any other goes on as it is."""
    # the epoch being trained (0: building the model and loss; None: the test evaluation)
    progress: dict[str, int | None] = {"epoch": 0}
    try:
        return _train_run(run, run_dir, data, eval_cfg=eval_cfg, observer=observer, numerics=numerics,
                          progress=progress)
    except (ModbenchError, KeyboardInterrupt):
        raise
    except Exception as exc:
        from modbench.engine.culprit import user_code_error

        named = user_code_error(exc, run, epoch=progress["epoch"])
        if named is None:
            raise
        raise named from exc


def _train_run(run, run_dir: RunDir, data: DeviceData, *, eval_cfg, observer, numerics, progress) -> dict[str, Any]:
    """``train_run``'s work; ``progress["epoch"]`` follows it."""
    observer = observer or Observer()
    cfg = run.config
    train_cfg = cfg["train"]
    numerics = numerics or backend.numerics(data.device, cfg)
    try:  # under torchrun: this rank's share of the batch (no-ops otherwise)
        dist = distributed.current().for_run(batch_size=train_cfg["batch_size"], family=loss_family(cfg["loss"], getattr(run, "references", None)))
    except distributed.SetupError as exc:
        raise UserError(str(exc)) from None

    epochs = train_cfg["epochs"]
    steps = steps_per_epoch(
        len(data.train_y), batch_size=train_cfg["batch_size"], sampler=train_cfg["sampler"], m=train_cfg["m"]
    )
    guard.reset(numerics)
    parts, groups = _build(run, data, dist)
    guard.check_code(run)  # the plugin's files as imported for this run are the ones its key names
    guard.check(run, numerics, "while its loss and backbone were built")
    parts.schedulers, schedule = build_schedulers(parts.optimizers, train_cfg, steps)  # engine/schedule.py
    state = _resume(run, run_dir, parts, numerics, observer)
    run_dir.write_config(cfg)

    observer.run_start(run, start_epoch=state.start_epoch, epochs=epochs, steps_per_epoch=steps)
    val_metrics = list(eval_cfg["val_metrics"])
    if train_cfg["select"] == "best-val" and "recall@1" not in val_metrics:
        val_metrics.append("recall@1")  # best-val selects on validation Recall@1

    for epoch in range(state.start_epoch, epochs):
        progress["epoch"] = epoch + 1
        t0 = time.perf_counter()
        trained = run_epoch(parts, data, train_cfg, seed=run.seed, epoch=epoch, observer=observer)
        if trained.bad_step is not None:
            raise _failed(run, run_dir, epoch, trained.bad_step, observer)
        val = _validate(parts, data, val_metrics, eval_cfg, dist)
        guard.check(run, numerics, f"during epoch {epoch + 1}")  # before its checkpoint is written
        elapsed = time.perf_counter() - t0
        state.train_seconds += elapsed
        record = {
            "run": run.key,
            "epoch": epoch + 1,
            "train_loss": trained.train_loss,
            "lr": parts.optimizers[0].param_groups[0]["lr"] if parts.optimizers else None,  # after the epoch
            **trained.diagnostics,  # train_accuracy, low_weight_share where the loss has them
            "val": val.values,
            "seconds": round(elapsed, 3),
            "images_per_s": round(trained.images / max(elapsed, 1e-9), 1),
        }
        _end_epoch(run, run_dir, parts, state, record, select=train_cfg["select"], numerics=numerics,
                   world_size=dist.world_size)
        observer.epoch_end(epoch=epoch + 1, record=record)

    progress["epoch"] = None
    result = None
    if dist.is_main:
        result = evaluate_run(run, run_dir, data, eval_cfg=eval_cfg, model=parts.model, numerics=numerics,
                              optimizer_groups=groups, schedule=schedule)
    observer.run_end(run, status="done")
    return result


def _model_to_evaluate(run, run_dir: RunDir, data: DeviceData, model: EmbeddingNet | None):
    """(model, evaluated checkpoint, last checkpoint): the last or best-validation weights."""
    cfg = run.config
    select = cfg["train"]["select"]
    state = run_dir.load_checkpoint(best=select == "best-val", map_location=str(data.device))
    if state is None:
        raise RunError(f"run {run.key}: no checkpoint to evaluate")
    if model is None or select == "best-val":
        torch.manual_seed(run.seed)
        model = restored_model(
            cfg["backbone"], state["model"], in_channels=data.splits.channels, image_size=data.splits.image_size,
            device=data.device, references=getattr(run, "references", None),
            data_stats=(data.splits.mean, data.splits.std),
        )
    last = run_dir.load_checkpoint(map_location="cpu") if select == "best-val" else state
    return model, state, last


def _to_measure(keep: dict[str, Any] | None, eval_cfg: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(stored metrics that stay, names to measure): the requested ones not stored, or, when the
    k-means settings changed, every stored and requested one again."""
    requested = list(eval_cfg["metrics"])
    stored: dict[str, Any] = dict((keep or {}).get("metrics") or {})
    stored.pop(ACCURACY, None)  # not an embedding metric: measured again with every evaluation
    stored_eval = (keep or {}).get("eval") or {}
    if all(stored_eval.get(k) == eval_cfg.get(k) for k in ("kmeans_seed", "kmeans_n_init")):
        return stored, [n for n in requested if n not in stored]
    return {}, list(dict.fromkeys([*stored, *requested]))


def evaluate_run(
    run,
    run_dir: RunDir,
    data: DeviceData,
    *,
    eval_cfg: dict[str, Any],
    model: EmbeddingNet | None = None,
    numerics: dict[str, Any] | None = None,
    optimizer_groups: list[dict[str, Any]] | None = None,
    schedule: dict[str, Any] | None = None,
    keep: dict[str, Any] | None = None,
    write: bool = True,
) -> dict[str, Any]:
    """Test-set metrics of a finished run (last or best-validation checkpoint), written to
    ``result.json`` unless ``write`` is off (a read-only cache). Rebuilds the model from the
    checkpoint when none is given.

    ``keep``: the run's stored result. Its metrics stay; the requested ones it lacks are
    measured and added (all of them again when the k-means settings changed). The returned
    record shows the requested metrics; the file keeps them all.

    The per-query records (``queries.npz``) are computed every time, from the same embeddings,
    kNN search and k-means as the metrics, and written before ``result.json`` (which checksums
    them); for a stored result that lacks them this is the backfill, its metrics unchanged."""
    cfg = run.config
    model, state, last = _model_to_evaluate(run, run_dir, data, model)
    numerics = numerics or last.get("numerics") or backend.numerics(data.device, cfg)
    requested = list(eval_cfg["metrics"])
    stored, names = _to_measure(keep, eval_cfg)
    test_emb = embed(model, data.test_x, data)
    # Every requested metric is computed with the records (their k and the same search), but a
    # stored value is kept as it is: evaluating again never changes a run's reported numbers.
    measured = run_metrics(test_emb, data.test_y, list(dict.fromkeys([*requested, *names, *stored])), eval_cfg,
                                   strict=False, queries=True, query_mask=data.test_query_mask)
    metrics = {**stored, **{n: measured.values[n] for n in names}}
    family = loss_family(cfg["loss"], getattr(run, "references", None))
    accuracy = _accuracy(run, data, state, test_emb) if family == "softmax" else None
    if accuracy is not None:
        metrics[ACCURACY] = accuracy
    info = {**((keep or {}).get("metric_info") or {}), **measured.info} if keep else measured.info
    result = {
        **(keep or {}),
        "key": run.key,
        "config": cfg,
        "metrics": metrics,
        "metric_info": info,
        # softmax: "accuracy" in metrics is the top-1 of its classifier head; embedding: no head,
        # accuracy not applicable (never 0).
        "family": family,
        "eval": {**dict(eval_cfg), "metrics": [m for m in metrics if m != ACCURACY]},
        "checkpoint": {"select": cfg["train"]["select"], "epoch": int(state.get("best_epoch", state["epoch"]))},
        "epochs": int(last["epoch"]),
        "train_seconds": round(float(last.get("train_seconds", 0.0)), 3),
        "device": str(data.device),
        "world_size": int(last.get("world_size", 1)),  # processes of the last epoch (torchrun)
        # What besides the configuration and the code changes the numbers (modbench/identity.py).
        "numerics": numerics,
        "cpu_threads": torch.get_num_threads() if numerics.get("cpu_threads") is None else numerics["cpu_threads"],
        "data": {**data.splits.sizes(), "info": data.splits.info},
        "versions": package_versions(),
        "date": _now(),
    }
    if optimizer_groups is not None:
        result["optimizer_groups"] = optimizer_groups
    if schedule is not None:
        result["schedule"] = schedule  # the learning-rate schedule as built (engine/schedule.py)
    if write:
        run_dir.write_queries(measured.queries)
        run_dir.write_result(result)
    shown = [*requested, ACCURACY]  # the classifier's accuracy goes with every softmax-family result
    return {**result, "metrics": {n: metrics[n] for n in shown if n in metrics}}


def _accuracy(run, data: DeviceData, state: dict[str, Any], test_emb: torch.Tensor) -> float | None:
    """Top-1 accuracy of the classifier head of the evaluated checkpoint (its loss's weights)
    on the test embeddings; None for a checkpoint without the loss's weights."""
    if "loss" not in state or data.splits.protocol != "closed":
        return None  # class-disjoint: the head knows none of the test classes
    cfg = run.config
    loss_fn = build_loss(cfg["loss"], num_classes=data.splits.num_classes,
                         embedding_dim=cfg["backbone"]["embedding_dim"], params=getattr(run, "params", None),
                         references=getattr(run, "references", None))
    loss_fn.load_state_dict(state["loss"])
    loss_fn.to(data.device)
    return classifier_accuracy(loss_fn.classifier, test_emb, data.test_y)
