"""What a run's own code (a plugin loss or backbone) must leave as it found it.

Two process-wide settings change every number a run computes and are not the run's to choose:
the intra-op CPU thread count (the run's ``train.cpu_threads``, part of its key) and torch's
default floating-point type (float32). ``reset`` sets both before each run, so that a run that
changed them cannot break the next one in the same process; ``check`` compares them with the
run's numerics after its loss and backbone are built and after every epoch (before the
checkpoint is written), and refuses the run in one line when user code changed them: its
numbers would be recorded under numerics it did not compute with.

``check_code`` refuses a run whose code (``identity.code_identity``: modbench's files, the
plugin's own files as they were imported, the package versions) is not the code its key was
computed from, e.g. a plugin edited while an earlier run of the same command trained.
"""

from __future__ import annotations

from typing import Any

import torch

from modbench.errors import UserError

DEFAULT_DTYPE = torch.float32


def reset(numerics: dict[str, Any]) -> None:
    """The run's thread count (on the CPU) and the float32 default type, before it starts."""
    torch.set_default_dtype(DEFAULT_DTYPE)
    if numerics.get("cpu_threads") is not None:
        torch.set_num_threads(int(numerics["cpu_threads"]))


def check(run, numerics: dict[str, Any], when: str) -> None:
    """UserError (after restoring both settings) when the thread count or the default dtype are
    not the run's any more; ``when``: what ran since they were set ("while its loss ...")."""
    changed = []
    threads = numerics.get("cpu_threads")
    if threads is not None and torch.get_num_threads() != int(threads):
        changed.append(f"the CPU thread count to {torch.get_num_threads()} (the run's is {threads})")
    if torch.get_default_dtype() != DEFAULT_DTYPE:
        changed.append(f"torch's default dtype to {torch.get_default_dtype()} (modbench trains in float32)")
    if not changed:
        return
    reset(numerics)
    raise UserError(
        f"run '{run.label}' seed {run.seed} ({run.key}): its code changed {' and '.join(changed)} {when}; "
        "its numbers would not be what modbench records, so it is not trained: remove that call from "
        f"the loss or backbone (the run's thread count is train.cpu_threads or --threads)"
    )


def check_code(run) -> None:
    """UserError when the code the run would execute now is not the code its key names."""
    from modbench.identity import code_identity

    planned = run.config.get("code")
    if not isinstance(planned, dict):
        return
    now = code_identity(run.loss, run.backbone, getattr(run, "references", None))
    if now != planned:
        what = "package versions" if now.get("packages") != planned.get("packages") else "source files"
        raise UserError(
            f"run '{run.label}' seed {run.seed} ({run.key}): its code ({what}) changed since the runs "
            "were planned (a file edited while the command ran?); nothing of it was trained: run the "
            "command again, and the run gets the key of the code as it is now"
        )
