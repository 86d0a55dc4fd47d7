"""Batched augmentation of uint8 image tensors, on whatever device they live on.

Random numbers come from a CPU ``torch.Generator`` seeded per epoch, so a run is reproducible and
resumable, and the same seed draws the same crops on CPU and CUDA.
"""

from __future__ import annotations

import torch

AUGMENTATIONS = ("none", "crop", "crop-flip")
PAD = 4  # pixels of zero padding before a random crop back to the original size (CIFAR practice)


def random_crop(images: torch.Tensor, generator: torch.Generator, pad: int = PAD) -> torch.Tensor:
    """Pad by ``pad`` zeros on each side and crop a random HxW window per image."""
    b, _, h, w = images.shape
    padded = torch.nn.functional.pad(images, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(images.device)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(images.device)
    rows = dy[:, None] + torch.arange(h, device=images.device)  # [B, H]
    cols = dx[:, None] + torch.arange(w, device=images.device)  # [B, W]
    batch = torch.arange(b, device=images.device)[:, None, None]
    # Advanced indexing on dims 0, 2, 3 gives [B, H, W, C]; put channels back in place.
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2)


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each image left-right with probability 1/2."""
    flip = torch.rand(images.shape[0], generator=generator) < 0.5
    flip = flip.to(images.device)[:, None, None, None]
    return torch.where(flip, images.flip(-1), images)


def augment(images: torch.Tensor, kind: str, generator: torch.Generator) -> torch.Tensor:
    if kind == "none":
        return images
    if kind == "crop":
        return random_crop(images, generator)
    if kind == "crop-flip":
        return random_flip(random_crop(images, generator), generator)
    raise ValueError(f"unknown augmentation '{kind}' (choices: {', '.join(AUGMENTATIONS)})")
