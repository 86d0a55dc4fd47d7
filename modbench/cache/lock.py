"""One lock per run directory, so that processes sharing a cache train each run once.

``fcntl.flock`` on ``<run dir>/.lock``: the kernel releases the lock when its holder exits, even
on SIGKILL, so a lock left by a dead process is taken over at once (the file stays; only the
kernel's lock matters). POSIX only (Linux, macOS); on network file systems flock works where the
server supports it (NFSv4 on Linux).

The holder writes its pid into the lock file, so that a process that finds the run busy can
say who holds it and notice a holder that is stopped (SIGSTOP, Ctrl-Z): ``describe_holder``,
``RunLock.holder_stopped``.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from modbench.cache.atomic import CacheWriteError


class RunLock:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self, *, blocking: bool = True) -> bool:
        """True once held; False when ``blocking`` is off and another process holds it."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this object")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise CacheWriteError(self.path, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        try:  # who holds it (read by others for their messages); best effort
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass
        return True

    def acquire_within(self, seconds: float) -> bool:
        """Try for up to ``seconds``; True once held."""
        deadline = time.monotonic() + seconds
        while not self.acquire(blocking=False):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def holder_pid(self) -> int | None:
        """The pid written by the process holding the lock (None when unknown)."""
        try:
            text = self.path.read_text(errors="replace").strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def holder_stopped(self) -> bool:
        """The holder is alive but stopped (state T on Linux): it will not release the lock."""
        pid = self.holder_pid()
        if pid is None:
            return False
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return False
        return fields[0] in ("T", "t")

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def describe_holder(lock: RunLock) -> str:
    """``modbench process 1234`` (stopped, when it is), or ``another modbench process``."""
    pid = lock.holder_pid()
    if pid is None:
        return "another modbench process"
    return f"modbench process {pid}" + (" (stopped)" if lock.holder_stopped() else "")
