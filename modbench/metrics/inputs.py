"""Checking and preparing the input of ``compute_metrics``: embeddings, labels, normalisation."""

from __future__ import annotations

import numpy as np
import torch

from modbench.metrics.names import MetricError


def as_tensor(embeddings, device) -> torch.Tensor:
    if isinstance(embeddings, torch.Tensor):
        x = embeddings.detach()
    else:
        arr = np.asarray(embeddings)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise MetricError(f"embeddings must be an array of floats, got dtype {arr.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(arr))
    if device is not None:
        x = x.to(torch.device(device))
    return x


def as_labels(labels) -> np.ndarray:
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    y = np.asarray(labels)
    if y.ndim != 1:
        raise MetricError(f"labels must be one integer per sample ([N]), got shape {y.shape}")
    if y.dtype == bool or not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and y.size and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
            y = y.astype(np.int64)  # 3.0 -> 3; 3.5 is an error below
        elif y.size:
            raise MetricError(f"labels must be integers, got dtype {y.dtype}")
    return y.astype(np.int64)


def prepare(x: torch.Tensor, normalize: bool) -> tuple[torch.Tensor, int]:
    """float32 copy for the search: finite check, zero rows counted, rows L2-normalised.

    Scale-robust: in float64, each row is first divided by its largest absolute value,
    then by its L2 norm, so no square overflows or underflows, whatever the input's scale (float32
    x 1e19 squared is inf in float32; float64 x 1e-320 squared is 0). A zero row stays zero.
    """
    if x.dtype not in (torch.float16, torch.float32, torch.float64):
        x = x.float()  # bfloat16, integers
    if x.numel() and not bool(torch.isfinite(x).all()):
        raise MetricError("embeddings contain NaN or infinite values")
    # |x| and max are exact in the input's precision; everything after is float64.
    peak = x.abs().amax(dim=1).double() if x.numel() else torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
    zero_rows = int((peak == 0).sum())
    a = x.to(torch.float64, copy=True)  # a copy even of float64 input: divided in place below
    if normalize and a.numel():
        a /= torch.where(peak == 0, 1.0, peak).unsqueeze(1)
        norms = torch.linalg.vector_norm(a, dim=1)  # between 1 and sqrt(D) for non-zero rows
        a /= torch.where(norms == 0, 1.0, norms).unsqueeze(1)
    return a.float().contiguous(), zero_rows


def checked_input(embeddings, labels, device) -> tuple[torch.Tensor, np.ndarray]:
    """``(embeddings as a 2-D real tensor on device, labels as int64 [N])``, or MetricError."""
    x = as_tensor(embeddings, device)
    y = as_labels(labels)
    if x.dim() != 2:
        raise MetricError(f"embeddings must be a 2-D array [N, D], got shape {tuple(x.shape)}")
    if x.is_complex() or x.dtype == torch.bool:
        raise MetricError(f"embeddings must be real numbers, got {x.dtype}")
    if y.shape[0] != x.shape[0]:
        raise MetricError(f"embeddings and labels differ in length: {x.shape[0]} rows vs {y.shape[0]} labels")
    if x.shape[1] < 1:
        raise MetricError("embeddings have 0 columns")
    return x, y
