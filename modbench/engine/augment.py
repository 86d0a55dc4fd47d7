"""Batched augmentation of uint8 image tensors, on whatever device they live on.

Random numbers are drawn once per epoch from a CPU ``torch.Generator`` seeded by (seed, epoch)
(``draw_augment``), so a run is reproducible and resumable, and the same seed draws the same
crops and flips on CPU and CUDA. Applying them (``crop_flip``) is one gather per batch on the
device: no per-image Python, no PIL.

Random crop with padding (CIFAR practice): pad every image by ``PAD`` zero pixels on each side,
then cut an HxW window at a random offset (dy, dx) in [0, 2*PAD]. Flip: mirror the window
left-right with probability 1/2. Both are read straight from a padded copy of the split kept in
NHWC layout (``pad_nhwc``, built once), so crop, flip and the gather of the batch's images are a
single indexing operation; the rows and columns each crop reads are computed for the whole epoch
at once (``crop_windows``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

AUGMENTATIONS = ("none", "crop", "crop-flip")
PAD = 4  # pixels of zero padding before a random crop back to the original size (CIFAR practice)


def check_augment(kind: str) -> None:
    if kind not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation '{kind}' (choices: {', '.join(AUGMENTATIONS)})")


@dataclass
class AugmentDraws:
    """One epoch's random crop offsets and flips, ``[steps, batch]`` each (CPU until moved)."""

    dy: torch.Tensor  # int64, rows offset in [0, 2*PAD]
    dx: torch.Tensor  # int64, column offset in [0, 2*PAD]
    flip: torch.Tensor  # bool, mirror left-right

    def to(self, device: torch.device) -> AugmentDraws:
        return AugmentDraws(self.dy.to(device), self.dx.to(device), self.flip.to(device))


def draw_augment(
    kind: str, steps: int, batch: int, generator: torch.Generator, pad: int = PAD
) -> AugmentDraws | None:
    """The random numbers of ``steps`` batches of ``batch`` images; None for ``"none"``.

    Drawn in a fixed order (dy, dx, then flips for ``crop-flip``), all from ``generator``.
    """
    check_augment(kind)
    if kind == "none":
        return None
    dy = torch.randint(0, 2 * pad + 1, (steps, batch), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (steps, batch), generator=generator)
    if kind == "crop-flip":
        flip = torch.rand(steps, batch, generator=generator) < 0.5
    else:
        flip = torch.zeros(steps, batch, dtype=torch.bool)
    return AugmentDraws(dy, dx, flip)


def pad_nhwc(images: torch.Tensor, pad: int = PAD) -> torch.Tensor:
    """uint8 [N, C, H, W] -> zero-padded uint8 [N, H + 2*pad, W + 2*pad, C], contiguous."""
    padded = torch.nn.functional.pad(images, (pad, pad, pad, pad))
    return padded.permute(0, 2, 3, 1).contiguous()


def crop_windows(
    dy: torch.Tensor, dx: torch.Tensor, flip: torch.Tensor, size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows [..., H] and columns [..., W] of the padded image that each crop reads, for
    offsets and flips of any shape [...] (a batch, or a whole epoch [steps, batch]). A mirrored
    window reads its columns right to left: column j comes from dx + (W - 1 - j)."""
    h, w = size
    ar_h = torch.arange(h, device=dy.device)
    ar_w = torch.arange(w, device=dx.device)
    rows = dy[..., None] + ar_h
    cols = dx[..., None] + torch.where(flip[..., None], (w - 1) - ar_w, ar_w)
    return rows, cols


def crop_flip(padded_nhwc: torch.Tensor, idx: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Images ``idx`` [B] of a padded NHWC split, each cut to its ``rows`` [B, H] and ``cols``
    [B, W] (``crop_windows``), in one gather: uint8 [B, C, H, W] with channels-last strides (what
    a channels_last network wants, and free to produce from NHWC storage)."""
    out = padded_nhwc[idx[:, None, None], rows[:, :, None], cols[:, None, :]]  # [B, H, W, C]
    return out.permute(0, 3, 1, 2)
