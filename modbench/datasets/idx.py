"""Read an idx file (the MNIST / Fashion-MNIST format), plain or gzip-compressed, into numpy.

Written by hand because torchvision's ``read_sn3_pascalvincent_tensor`` opens only an
uncompressed path, and Zalando publishes (and Debian packages) the ``.gz`` files: reading them
through ``gzip`` here means a user never has to unpack them, and nothing is written to disk.

Format: 4 magic bytes (0, 0, type, number of dimensions), the dimensions as big-endian uint32,
then the values. Only type 0x08 (uint8) occurs in Fashion-MNIST and is accepted. The header is
read first and the declared size is checked against ``max_bytes`` before any value is read, so a
damaged or hostile file (a gzip bomb, a header claiming terabytes) costs nothing; the values must
then be exactly the declared number of bytes.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

UINT8 = 0x08
MAX_BYTES = 1 << 31  # 2 GiB: Fashion-MNIST's largest file holds 47 MB


class IdxError(ValueError):
    """The file is not a well-formed uint8 idx file (truncated, foreign, too large)."""


def _open(path: Path):
    with open(path, "rb") as probe:
        compressed = probe.read(2) == b"\x1f\x8b"  # gzip magic, whatever the file is called
    return gzip.open(path, "rb") if compressed else open(path, "rb")


def _read_exactly(f, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise IdxError(f"truncated: {what} holds {len(data)} of {n} bytes")
    return data


def read_idx(path: Path | str, *, ndim: int, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """The uint8 array of ``path`` (``.gz`` or not), which must have ``ndim`` dimensions."""
    path = Path(path)
    try:
        with _open(path) as f:
            zero, zero2, kind, nd = _read_exactly(f, 4, "the magic number")
            if zero or zero2 or kind != UINT8:
                raise IdxError(f"not a uint8 idx file (magic {zero:#04x} {zero2:#04x} {kind:#04x})")
            if nd != ndim:
                raise IdxError(f"{nd} dimensions where {ndim} are expected")
            shape = struct.unpack(f">{nd}I", _read_exactly(f, 4 * nd, "the header"))
            size = int(np.prod(shape, dtype=np.int64))
            if size > max_bytes:
                raise IdxError(f"declares {size} bytes, more than the limit of {max_bytes}")
            data = _read_exactly(f, size, f"the values of shape {shape}")
            if f.read(1):
                raise IdxError(f"longer than its declared shape {shape}")
    except (OSError, EOFError, zlib.error) as e:  # unreadable, or a damaged gzip stream
        raise IdxError(f"unreadable ({type(e).__name__}: {e})") from None
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)
