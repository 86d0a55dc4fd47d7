"""TEST-ONLY: kill or pause a real ``modbench`` process at a precise point, from outside modbench.

modbench has no test hooks of its own. This script patches the functions below and then calls
the command line's own ``main()``, like ``python -m modbench`` (the pattern of
``tests/reliability/nan_loss.py``)::

    HOOK_KILL_AT=POINT:N python tests/killpoints.py train --suite ...
    HOOK_PAUSE_AT=POINT:N:FILE python tests/killpoints.py compare --suite ...

``HOOK_KILL_AT``: SIGKILL this process the N-th time it reaches POINT. ``HOOK_PAUSE_AT``: the
N-th time, create ``FILE.reached`` and wait (at most 120 s) until FILE exists.

Points and the function each one follows:

- ``after-checkpoint``: an epoch's checkpoint and history are on disk (``train._end_epoch``
  returned);
- ``validation`` / ``evaluation``: the validation / test embeddings are computed, their metrics
  not yet (``train.embed`` returned, told apart by the images it embedded);
- ``writing:<file name>``: half of a cache file's bytes are in its temporary file
  (``atomic._write_file``).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

KILL_ENV, PAUSE_ENV = "HOOK_KILL_AT", "HOOK_PAUSE_AT"
_counts: Counter[str] = Counter()


def reached(point: str) -> None:
    kill, pause = os.environ.get(KILL_ENV), os.environ.get(PAUSE_ENV)
    _counts[point] += 1
    here = f"{point}:{_counts[point]}"
    if kill == here:
        os.kill(os.getpid(), signal.SIGKILL)
    if pause and pause.rpartition(":")[0] == here:
        release = Path(pause.rpartition(":")[2])
        Path(f"{release}.reached").touch()
        deadline = time.monotonic() + 120
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.02)


def install() -> None:
    """Patch the points in (a no-op when neither variable is set)."""
    if not (os.environ.get(KILL_ENV) or os.environ.get(PAUSE_ENV)):
        return
    import modbench.cache.atomic as atomic
    import modbench.engine.train as train

    real_write, real_end, real_embed = atomic._write_file, train._end_epoch, train.embed

    def write_file(handle, data, name):
        half = len(data) // 2
        real_write(handle, data[:half], name)
        reached(f"writing:{name}")
        real_write(handle, data[half:], name)

    def end_epoch(*args, **kwargs):
        real_end(*args, **kwargs)
        reached("after-checkpoint")

    def embed(model, images, data, *args, **kwargs):
        out = real_embed(model, images, data, *args, **kwargs)
        if images is data.val_x:
            reached("validation")
        elif images is data.test_x:
            reached("evaluation")
        return out

    atomic._write_file, train._end_epoch, train.embed = write_file, end_epoch, embed


if __name__ == "__main__":
    install()
    from modbench.cli.app import main

    sys.argv[0] = "modbench"
    main()
