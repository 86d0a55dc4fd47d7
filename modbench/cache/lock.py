"""One lock per run directory, so that processes sharing a cache train each run once.

``fcntl.flock`` on ``<run dir>/.lock``: the kernel releases the lock when its holder exits, even
on SIGKILL, so a lock left by a dead process is taken over at once (the file stays; only the
kernel's lock matters). POSIX only (Linux, macOS); on network file systems flock works where the
server supports it (NFSv4 on Linux).
"""

from __future__ import annotations

import fcntl
import os
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
        return True

    def acquire_within(self, seconds: float) -> bool:
        """Try for up to ``seconds``; True once held."""
        import time

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

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
