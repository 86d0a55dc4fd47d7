"""Commands suggested in messages, written so that running them does what the message says."""

from __future__ import annotations

import shlex


def train_command(suite_ref: str, *, seed: int | None = None, epochs: int | None = None, subset: int | None = None,
                  test_subset: int | None = None) -> str:
    """``modbench train`` for the same runs: the suite and every override that changes a run's
    key (seed, epochs, subset, test subset), so the suggested command trains exactly the missing run."""
    parts = ["modbench", "train", "--suite", suite_ref]
    if seed is not None:
        parts += ["--seed", str(seed)]
    if epochs is not None:
        parts += ["--epochs", str(epochs)]
    if subset is not None:
        parts += ["--subset", str(subset)]
    if test_subset is not None:
        parts += ["--test-subset", str(test_subset)]
    return shlex.join(parts)
