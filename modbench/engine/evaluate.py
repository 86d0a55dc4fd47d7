"""Embedding a split in batches and measuring it with the pure metric functions."""

from __future__ import annotations

from typing import Any

import torch

from modbench.engine.data import DeviceData

EVAL_BATCH = 1024  # images per forward pass at evaluation; no gradients, so memory allows more


def embed(model: torch.nn.Module, images: torch.Tensor, data: DeviceData, batch_size: int = EVAL_BATCH) -> torch.Tensor:
    """Float32 embeddings [N, D] of uint8 ``images`` (no augmentation, eval mode)."""
    was_training = model.training
    model.eval()
    use_amp = data.device.type == "cuda"
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = data.normalize(images[start : start + batch_size])
            if use_amp:
                batch = batch.contiguous(memory_format=torch.channels_last)
            with torch.autocast(data.device.type, dtype=torch.bfloat16, enabled=use_amp):
                out.append(model(batch).float())
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, 1)


def evaluate_embeddings(embeddings: torch.Tensor, labels: torch.Tensor, metrics: list[str], eval_cfg: dict[str, Any], *, strict: bool):
    from modbench.metrics import compute_metrics

    return compute_metrics(
        embeddings,
        labels,
        metrics,
        normalize=True,
        device=embeddings.device,
        kmeans_seed=eval_cfg.get("kmeans_seed", 0),
        kmeans_n_init=eval_cfg.get("kmeans_n_init", 1),
        strict=strict,
    )
