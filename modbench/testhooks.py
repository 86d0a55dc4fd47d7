"""TEST-ONLY hooks: stop or pause the process at a named point, so that tests can kill a real
``modbench`` subprocess at a precise moment (tests/reliability/). Users never set these.

``MODBENCH_TEST_KILL_AT=POINT:N``   SIGKILL this process the N-th time it reaches POINT.
``MODBENCH_TEST_PAUSE_AT=POINT:N:FILE``   the N-th time: create ``FILE.reached``, then wait (at
most 120 s) until FILE exists (another process holding this one at a known state).

Points: ``after-checkpoint`` (an epoch's checkpoint and history are on disk), ``validation``
(an epoch's validation embeddings computed, metrics not yet), ``evaluation`` (test embeddings
computed, result not yet written), ``writing:<file name>`` (half of a cache file's bytes written
to its temporary file). With neither variable set, ``reached`` is one dictionary look-up.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

KILL_ENV = "MODBENCH_TEST_KILL_AT"
PAUSE_ENV = "MODBENCH_TEST_PAUSE_AT"
_counts: Counter[str] = Counter()


def reached(point: str) -> None:
    kill, pause = os.environ.get(KILL_ENV), os.environ.get(PAUSE_ENV)
    if not kill and not pause:
        return
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
