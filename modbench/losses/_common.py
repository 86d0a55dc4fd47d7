"""Shared pieces of the loss modules: shape checks, float32 casting, and two small base classes.

``SoftmaxLoss`` owns the ``Linear(embedding_dim, num_classes)`` classifier of DESIGN.md section 1
and hands float32 logits to ``criterion``. ``MetricLoss`` wraps a pytorch-metric-learning loss
(and optionally a miner) so that every embedding-family loss checks its inputs the same way.

Empty batch (B = 0), for every loss: the result is a zero scalar that is still attached to the
graph, so ``backward()`` runs and leaves zero gradients, instead of the NaN that a mean over
nothing would give.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor, nn

_WIDE_FLOATS = (torch.float32, torch.float64)


def at_least_float32(x: Tensor) -> Tensor:
    """``x`` in float32 unless it is already float32 or float64 (float64 is kept for gradcheck).

    Under autocast a Linear gives float16/bfloat16 logits; log_softmax of those loses the small
    probabilities the losses depend on, so every criterion works in float32 at least.
    """
    return x if x.dtype in _WIDE_FLOATS else x.float()


def full_precision(device: torch.device):
    """A context in which autocast is off on ``device``: the criterion's matmuls, exps and logs
    run in the dtype of their inputs (float32 here), not in float16/bfloat16."""
    try:
        return torch.autocast(device_type=device.type, enabled=False)
    except RuntimeError:  # a device type autocast does not know: nothing to turn off
        return contextlib.nullcontext()


def check_logits_and_target(logits: Tensor, target: Tensor) -> None:
    """``logits`` [B, C] floating, ``target`` [B] integer class indices."""
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape [B, C], got {tuple(logits.shape)}")
    if not logits.is_floating_point():
        raise ValueError(f"logits must be floating point, got {logits.dtype}")
    if target.dim() != 1 or target.shape[0] != logits.shape[0]:
        raise ValueError(
            f"target must have shape [B] = [{logits.shape[0]}], got {tuple(target.shape)}"
        )
    if target.is_floating_point() or target.dtype == torch.bool:
        raise ValueError(f"target must hold integer class indices, got {target.dtype}")


def check_embeddings_and_labels(embeddings: Tensor, labels: Tensor, embedding_dim: int) -> None:
    """``embeddings`` [B, embedding_dim] floating, ``labels`` [B] integer."""
    if embeddings.dim() != 2 or embeddings.shape[1] != embedding_dim:
        raise ValueError(
            f"embeddings must have shape [B, {embedding_dim}], got {tuple(embeddings.shape)}"
        )
    if not embeddings.is_floating_point():
        raise ValueError(f"embeddings must be floating point, got {embeddings.dtype}")
    if labels.dim() != 1 or labels.shape[0] != embeddings.shape[0]:
        raise ValueError(
            f"labels must have shape [B] = [{embeddings.shape[0]}], got {tuple(labels.shape)}"
        )
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise ValueError(f"labels must hold integer class indices, got {labels.dtype}")


def check_sizes(num_classes: int, embedding_dim: int) -> None:
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if embedding_dim < 1:
        raise ValueError(f"embedding_dim must be >= 1, got {embedding_dim}")


def zero_attached(x: Tensor) -> Tensor:
    """A float32 zero scalar that depends on ``x``, so backward() runs and gives zeros."""
    return at_least_float32(x).sum() * 0.0


def reduce(losses: Tensor, reduction: str) -> Tensor:
    """``mean`` (zero for an empty batch, never NaN), ``sum`` or ``none``."""
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean":
        return losses.sum() / max(losses.shape[0], 1)
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


class SoftmaxLoss(nn.Module):
    """Base of the softmax family: a classifier on the embedding, a criterion on its logits.

    ``param_lr`` is None: the classifier trains with the model's learning rate.
    """

    param_lr: float | None = None

    def __init__(self, num_classes: int, embedding_dim: int):
        super().__init__()
        check_sizes(num_classes, embedding_dim)
        self.num_classes = num_classes
        self.embedding_dim = embedding_dim
        self.classifier = nn.Linear(embedding_dim, num_classes)

    def criterion(self, logits: Tensor, labels: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        check_embeddings_and_labels(embeddings, labels, self.embedding_dim)
        logits = self.classifier(embeddings)  # under autocast, if any, like the backbone
        with full_precision(logits.device):
            logits = at_least_float32(logits)
            if logits.shape[0] == 0:
                return zero_attached(logits)
            return self.criterion(logits, labels)


class MetricLoss(nn.Module):
    """A pytorch-metric-learning loss on the embeddings, with an optional miner.

    Embeddings are cast to float32 and autocast is turned off around the miner and the loss
    (pml's distances and exp-based losses are not float16-safe).
    pml L2-normalises embeddings in its default distance, as the evaluation does.
    """

    param_lr: float | None = None

    def __init__(self, loss: nn.Module, embedding_dim: int, miner: nn.Module | None = None):
        super().__init__()
        self.embedding_dim = embedding_dim
        self.loss = loss
        self.miner = miner

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        check_embeddings_and_labels(embeddings, labels, self.embedding_dim)
        with full_precision(embeddings.device):
            embeddings = at_least_float32(embeddings)
            if embeddings.shape[0] == 0:
                return zero_attached(embeddings)
            indices = self.miner(embeddings, labels) if self.miner is not None else None
            loss = self.loss(embeddings, labels, indices)
            if not torch.is_tensor(loss):  # pml may return a plain 0 when nothing contributes
                return zero_attached(embeddings)
            return loss
