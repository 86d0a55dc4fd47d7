"""What the user-data loaders (``folder``, ``npz``) share: one image layout, resizing, labels,
a content digest."""

from __future__ import annotations

import hashlib

import torch

from modbench.errors import UserError


def to_channels(images: list[torch.Tensor], channels: int) -> list[torch.Tensor]:
    """uint8 [C, H, W] images (C in {1, 3}) with ``channels`` channels: a greyscale image is
    repeated when a split holds colour images, so that every split is one tensor."""
    return [im.expand(3, -1, -1) if channels == 3 and im.shape[0] == 1 else im for im in images]


def resize(images: list[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
    """uint8 [N, C, H, W] of the images resized to ``size`` (H, W), bilinear with antialiasing
    (torchvision's ``resize``; an image already of that size is not touched)."""
    from torchvision.transforms.v2 import functional as TF

    out = [im if tuple(im.shape[-2:]) == size else TF.resize(im, list(size), antialias=True)
           for im in images]
    return torch.stack(out) if out else torch.zeros(0, 1, *size, dtype=torch.uint8)


def resize_batch(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 [N, C, H, W] resized to ``size`` in one call (same filter as ``resize``)."""
    if tuple(images.shape[-2:]) == size:
        return images
    from torchvision.transforms.v2 import functional as TF

    return TF.resize(images, list(size), antialias=True).contiguous()


def digest(*tensors: torch.Tensor) -> str:
    """sha256 of the tensors' bytes, recorded with the results (which images a run saw)."""
    h = hashlib.sha256()
    for t in tensors:
        h.update(str(tuple(t.shape)).encode())
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


def need_two_classes(name: str, where: str, classes: list) -> None:
    if len(classes) < 2:
        raise UserError(f"dataset '{name}': {where} has {len(classes)} class(es); a benchmark of "
                        "losses needs at least 2")
