"""A finished run's test-set embeddings, recomputed from its checkpoint with the evaluation code
(``evaluate.embed``), for ``modbench export`` to hand to other tools."""

from __future__ import annotations

from typing import Any

import torch

from modbench.cache.store import RunDir
from modbench.engine.device_data import DeviceData, load_splits
from modbench.engine.evaluate import embed
from modbench.engine.model import restored_model
from modbench.errors import UserError


def run_test_embeddings(
    run_dir: RunDir, config: dict[str, Any], *, device: torch.device, data_dir=None, download: bool = False
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """``(embeddings [N, D] float32, labels [N] int64, info)`` of the test split, from the
    checkpoint the run reports (the last one, or the best-validation one with
    ``select: best-val``), exactly as the final evaluation embeds it (not normalised). ``info``
    holds ``test_query_mask`` (bool [N]) for a query/gallery test split."""
    select = config["train"]["select"]
    state = run_dir.load_checkpoint(best=select == "best-val", map_location=str(device))
    if state is None:
        raise UserError(f"run {run_dir.key}: no checkpoint to compute embeddings from; train it first")
    splits = load_splits(config["dataset"], data_dir=data_dir, download=download, seed=config.get("seed"))
    data = DeviceData(splits, device)
    model = restored_model(config["backbone"], state["model"], in_channels=splits.channels,
                           image_size=splits.image_size, device=device, data_stats=(splits.mean, splits.std))
    embeddings = embed(model, data.test_x, data)
    info = {"run": run_dir.key, "checkpoint": select, "epoch": int(state.get("best_epoch", state["epoch"])), "device": str(device)}
    if splits.test_query_mask is not None:  # query/gallery split (In-Shop): which rows are queries
        info["test_query_mask"] = splits.test_query_mask.cpu()
    return embeddings.cpu(), data.test_y.cpu().long(), info
