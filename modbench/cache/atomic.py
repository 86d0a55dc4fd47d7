"""Atomic file writes: write a temporary file in the same folder, fsync, then ``os.replace``.

A reader therefore sees either the old complete file or the new complete file, never a part. A
process killed mid-write leaves only a ``.NAME.*.tmp`` file, which readers ignore and the next
writer of that run removes (``RunDir.remove_temp_files``).

Any OSError (disk full, read-only or unwritable folder) becomes one ``CacheWriteError`` line
(exit code 2) naming the file and the fix; the temporary file is removed, the old file kept.

``write_user_file`` is for a file the user named (``--output``, a figure, ``--embeddings``): only
a regular file or a missing name is replaced that way; a symbolic link, a character device
(``/dev/null``) or a FIFO is written through, so that the node the user pointed at stays what it
was, and any other node is refused in one line.

Files get the permissions of any new file under the user's umask (0644 under the usual 022),
not the 0600 that ``mkstemp`` gives its temporary files.
"""

from __future__ import annotations

import errno
import io
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from modbench.errors import UserError

# Imports inside functions here: torch is imported only to write a checkpoint: the cache is read,
# listed and answered from without torch (tests/test_startup.py).

TEMP_SUFFIX = ".tmp"


class CacheWriteError(UserError):
    """A file could not be written (exit code 2: the user must free space or pick a folder)."""

    def __init__(self, path: Path, exc: OSError):
        self.path, self.errno = Path(path), exc.errno
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            fix = "free disk space and run the same command again (finished runs and the last checkpoint are kept)"
        elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            fix = "choose a writable folder (--cache-dir or MODBENCH_CACHE for the cache)"
        else:
            fix = "check the folder and run the same command again"
        super().__init__(f"{path}: cannot write ({exc.strerror or exc}); {fix}")


def _write_file(handle, data: bytes, name: str) -> None:
    """Write ``data`` to an open file (the seam tests replace to simulate a full disk or a kill
    mid-write; ``name`` is the target's file name)."""
    handle.write(data)


def _umask() -> int:
    """The process's umask, read without changing it where Linux says it (/proc), else by
    setting and restoring it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            _write_file(handle, data, path.name)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(exc, OSError):
            raise CacheWriteError(path, exc) from None
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def atomic_torch_save(path: Path, obj: Any) -> None:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def write_user_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a path the user named, never replacing what it names.

    A missing name or a regular file: atomically, as the cache's files. A symbolic link: its
    target, atomically (the link stays; a dangling link's target is created). A character device
    or a FIFO: opened and written through (a FIFO that no process reads is refused at once
    instead of blocking). A folder, a socket or a block device: a UserError, nothing written.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode  # through symbolic links
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise CacheWriteError(path, exc) from None
    if mode is None or stat.S_ISREG(mode):
        atomic_write_bytes(Path(os.path.realpath(path)) if path.is_symlink() else path, data)
        return
    if stat.S_ISDIR(mode):
        raise UserError(f"{path}: is a folder; give a file name")
    if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        raise UserError(f"{path}: is not a regular file, a character device or a FIFO; give a file name")
    fifo = stat.S_ISFIFO(mode)
    try:
        fd = os.open(path, os.O_WRONLY | (os.O_NONBLOCK if fifo else 0))
    except OSError as exc:
        if fifo and exc.errno == errno.ENXIO:
            raise UserError(f"{path}: is a FIFO that no process reads; start its reader first or give a file name") from None
        raise CacheWriteError(path, exc) from None
    try:
        if fifo:
            os.set_blocking(fd, True)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        raise CacheWriteError(path, exc) from None
