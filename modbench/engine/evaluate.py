"""Embedding a split in batches and measuring it with the pure metric functions."""

from __future__ import annotations

from typing import Any

import torch

from modbench.engine import backend
from modbench.engine.device_data import DeviceData
from modbench.metrics.compute import compute_metrics

# Images per forward pass. CUDA: large (no gradients, memory allows many). CPU: 256, measured
# side by side (benchmarks/eval_tuning.py, docs/benchmarks.md): small-cnn embedded 10,000
# Fashion-MNIST images with 13% less CPU time at batches 64-256 than at 1024,
# with embeddings bit-identical to those of batches 64 to 1024 (a batch of one
# image differs in the last bits: tests/engine/test_evaluate_batch.py).
EVAL_BATCH = {"cpu": 256, "cuda": 4096}


def embed(model: torch.nn.Module, images: torch.Tensor, data: DeviceData, batch_size: int | None = None) -> torch.Tensor:
    """Float32 embeddings [N, D] of uint8 ``images`` (no augmentation, eval mode), computed in
    large batches under ``torch.inference_mode`` (bf16 autocast and channels-last on CUDA, as in
    training)."""
    device = data.device
    batch_size = batch_size or EVAL_BATCH.get(device.type, EVAL_BATCH["cpu"])
    was_training = model.training
    model.eval()
    use_amp = device.type == "cuda"
    layout = torch.channels_last if backend.channels_last(device) else torch.contiguous_format
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = data.normalize(images[start : start + batch_size]).contiguous(memory_format=layout)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                out.append(model(batch).float())
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, 1, device=device)


ACCURACY = "accuracy"  # the result's metric key of the classifier's top-1 accuracy (softmax family only)


def classifier_accuracy(classifier: torch.nn.Module, embeddings: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of a softmax-family loss's classifier head on ``embeddings`` (the
    network's raw embeddings, as the classifier saw them in training): the share of samples whose
    largest logit is their label. Not an embedding metric: it measures the head, which
    embedding-only losses do not have."""
    if len(labels) == 0:
        return float("nan")
    with torch.inference_mode():
        logits = classifier(embeddings.float())
    return int((logits.argmax(dim=1) == labels.to(logits.device)).sum()) / len(labels)  # exact ratio


def run_metrics(embeddings: torch.Tensor, labels: torch.Tensor, metrics: list[str], eval_cfg: dict[str, Any], *, strict: bool,
                queries: bool = False, query_mask: torch.Tensor | None = None):
    """A run's metrics on one split's embeddings, as the suite's ``eval`` section asks for them
    (normalised rows, its k-means seed and restarts), on the embeddings' device; ``queries``: with
    the per-query records (``MetricResult.queries``); ``query_mask``: the split's queries, each
    searched among the rest (the gallery) only (``DataSplits.test_query_mask``)."""
    return compute_metrics(
        embeddings,
        labels,
        metrics,
        normalize=True,
        device=embeddings.device,
        kmeans_seed=eval_cfg.get("kmeans_seed", 0),
        kmeans_n_init=eval_cfg.get("kmeans_n_init", 10),
        strict=strict,
        queries=queries,
        query_mask=query_mask,
    )
