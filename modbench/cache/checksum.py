"""SHA-256 checksums of cache files and of checkpoint contents.

- ``file_sha256``: of a file's bytes, streamed (result.json records one per file it points to).
- ``record_sha256``: of a JSON record's canonical form (result.json checks itself with it).
- ``state_digest``: of a checkpoint's contents (tensors byte by byte, with dtype and shape, and
  every other value), stored inside the checkpoint. ``torch.load`` notices a truncated file but
  not a flipped byte inside a tensor; the digest does.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from modbench.canonical import canonical_json

# Imports inside functions here: torch is imported only to hash a model state (its tensors): the
# cache is checked without torch otherwise (tests/test_startup.py).

CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def record_sha256(record: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(record).encode()).hexdigest()


def state_digest(obj: Any) -> str:
    digest = hashlib.sha256()
    _feed(digest, obj)
    return digest.hexdigest()


def _feed(digest, obj: Any) -> None:
    import torch

    if isinstance(obj, torch.Tensor):
        t = obj.detach().to("cpu").contiguous()
        digest.update(f"T{t.dtype}{tuple(t.shape)};".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, dict):
        digest.update(f"D{len(obj)};".encode())
        for key in sorted(obj, key=repr):
            _feed(digest, key)
            _feed(digest, obj[key])
    elif isinstance(obj, (list, tuple)):
        digest.update(f"{type(obj).__name__[0]}{len(obj)};".encode())
        for item in obj:
            _feed(digest, item)
    elif obj is None or isinstance(obj, (bool, int, float, str)):
        text = repr(obj)
        digest.update(f"{type(obj).__name__}{len(text)}:{text};".encode())
    else:
        raise TypeError(f"cannot checksum a {type(obj).__name__} in a checkpoint")
