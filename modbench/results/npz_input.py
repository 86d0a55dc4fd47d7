"""Read a user's embeddings from a ``.npz`` file (``modbench eval --embeddings FILE.npz``).

The file holds two arrays: ``embeddings`` (N x D real numbers) and ``labels`` (N integers), as
written by ``numpy.savez(path, embeddings=e, labels=y)``, and optionally ``query_mask`` (N
booleans: the queries of a query/gallery split, ``load_query_mask``). Anything else is a :class:`UserError`
(exit code 2) with one line that names the file, the problem and the fix. Pickled (object)
arrays are never loaded.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from modbench.errors import UserError

_SAVE_HINT = "save it with numpy.savez(path, embeddings=E, labels=y)"

# The largest array a file may declare (docs/metrics.md): 2 GiB, e.g. 10^6 x 512 float32. Checked
# from the .npy header before anything is read, because numpy allocates the declared size first.
MAX_ARRAY_BYTES = 2 * 2**30


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _size(nbytes: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes} bytes"


def _check_declared(npz, name: str, where: str) -> None:
    """Refuse an array whose header declares more than MAX_ARRAY_BYTES, or more data than its
    zip member holds, before numpy allocates it (read_magic / read_array_header_*)."""
    zf = npz.zip
    member = f"{name}.npy" if f"{name}.npy" in zf.namelist() else name
    try:
        with zf.open(member) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            header = f.tell()
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise UserError(f"{where}: array '{name}' is unreadable ({_one_line(e)}); {_SAVE_HINT}") from None
    if dtype.hasobject:
        return  # refused without reading by _read (pickle)
    count = 1
    for dim in shape:
        count *= int(dim)
    nbytes = count * dtype.itemsize
    declared = f"declares '{name}' of shape {tuple(int(d) for d in shape)} {dtype.name} ({_size(nbytes)})"
    if nbytes > MAX_ARRAY_BYTES:
        raise UserError(f"{where} {declared}, over the limit of {_size(MAX_ARRAY_BYTES)} per array; evaluate a subset")
    held = zf.getinfo(member).file_size - header
    if nbytes > held:
        raise UserError(f"{where} {declared} but holds only {_size(max(held, 0))} of data: the file is damaged; {_SAVE_HINT}")


def _read(npz, name: str, where: str) -> np.ndarray:
    try:
        return np.asarray(npz[name])
    except ValueError as e:  # object arrays need pickle, which is refused
        raise UserError(f"{where}: array '{name}' cannot be read without pickle ({_one_line(e)}); store numbers, not Python objects") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise UserError(f"{where}: array '{name}' is unreadable ({_one_line(e)}); {_SAVE_HINT}") from None


def load_embeddings_npz(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``(embeddings [N, D] float array, labels [N] int64)`` from ``path``, checked.

    Integer embeddings become float32; float16/32/64 are kept as stored. Labels may be stored as
    any integer type, or as floats holding whole numbers. Raises UserError for: a missing file;
    a file that is not a readable .npz; a missing ``embeddings`` or ``labels`` array; embeddings
    that are not 2-D real numbers; an array whose header declares more than MAX_ARRAY_BYTES or
    more data than the file holds (checked before reading); non-finite values or all-zero rows; labels that are not 1-D integers; lengths
    that differ; fewer than 2 samples.
    """
    p = Path(path)
    where = f"embeddings file '{_one_line(p)}'"
    if not p.exists():
        raise UserError(f"{where} does not exist; give the path of a .npz written by numpy.savez")
    if p.is_dir():
        raise UserError(f"{where} is a directory, not a .npz file")
    try:
        npz = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise UserError(f"{where} is not a readable .npz ({_one_line(e)}); {_SAVE_HINT}") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise UserError(f"{where} is a single .npy array, not a .npz with 'embeddings' and 'labels'; {_SAVE_HINT}")
    with npz:
        names = list(npz.files)
        for name in ("embeddings", "labels"):
            if name not in names:
                found = ", ".join(names) if names else "none"
                raise UserError(f"{where} has no array '{name}' (arrays found: {found}); {_SAVE_HINT}")
        for name in ("embeddings", "labels"):
            _check_declared(npz, name, where)
        emb = _read(npz, "embeddings", where)
        labels = _read(npz, "labels", where)

    if emb.ndim != 2:
        raise UserError(f"{where}: 'embeddings' must be 2-D (N x D), got shape {emb.shape}")
    if emb.dtype == np.bool_ or not (np.issubdtype(emb.dtype, np.floating) or np.issubdtype(emb.dtype, np.integer)):
        raise UserError(f"{where}: 'embeddings' must hold real numbers (float16/32/64), got dtype {emb.dtype}")
    if emb.shape[1] < 1:
        raise UserError(f"{where}: 'embeddings' has 0 columns (shape {emb.shape})")
    if labels.ndim != 1:
        raise UserError(f"{where}: 'labels' must be 1-D (one integer per sample), got shape {labels.shape}")
    if emb.shape[0] != labels.shape[0]:
        raise UserError(
            f"{where}: 'embeddings' has {emb.shape[0]} rows but 'labels' has {labels.shape[0]} entries; they must match"
        )
    if emb.shape[0] < 2:
        raise UserError(f"{where}: needs at least 2 samples, got {emb.shape[0]}")
    if np.issubdtype(emb.dtype, np.integer):
        emb = emb.astype(np.float32)
    finite = np.isfinite(emb)
    if not finite.all():
        row = int(np.argwhere(~finite)[0][0])
        bad = int((~finite).any(axis=1).sum())
        raise UserError(f"{where}: 'embeddings' has NaN or infinite values in {bad} row(s), first in row {row}")
    zero = ~(emb != 0).any(axis=1)
    if zero.any():
        raise UserError(
            f"{where}: 'embeddings' has all-zero rows in {int(zero.sum())} row(s), first in row {int(np.argmax(zero))}; "
            "a zero vector has no direction to L2-normalise: drop those rows"
        )
    labels = _integer_labels(labels, where)
    return emb, labels


def _integer_labels(labels: np.ndarray, where: str) -> np.ndarray:
    if np.issubdtype(labels.dtype, np.integer) and labels.dtype != np.bool_:
        return labels.astype(np.int64)
    if np.issubdtype(labels.dtype, np.floating):
        whole = np.isfinite(labels) & (labels == np.round(labels))
        if whole.all():
            return labels.astype(np.int64)
        i = int(np.argwhere(~whole)[0][0])
        raise UserError(f"{where}: 'labels' must be integers, but entry {i} is {labels[i]!r}")
    raise UserError(f"{where}: 'labels' must be integers, got dtype {labels.dtype}")


def load_query_mask(path: str | os.PathLike, n: int) -> np.ndarray | None:
    """The optional ``query_mask`` array of an embeddings file (bool [N]: True = query, False =
    gallery; ``modbench export`` writes it for a query/gallery test split such as In-Shop's), or
    None when the file has none. Read after ``load_embeddings_npz`` accepted the file; a mask
    that is not N booleans with at least one query and one gallery row is a UserError."""
    p = Path(path)
    where = f"embeddings file '{_one_line(p)}'"
    with np.load(p, allow_pickle=False) as npz:
        if "query_mask" not in npz.files:
            return None
        _check_declared(npz, "query_mask", where)
        mask = _read(npz, "query_mask", where)
    if mask.dtype != np.bool_ or mask.shape != (n,):
        raise UserError(f"{where}: 'query_mask' must be {n} booleans (True = query, False = gallery), "
                        f"got {mask.dtype} of shape {mask.shape}")
    if mask.all() or not mask.any():
        raise UserError(f"{where}: 'query_mask' needs at least one query (True) and one gallery row (False); "
                        "drop the array to measure every row against all the others")
    return mask
