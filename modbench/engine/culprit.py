"""Which user code raised an exception during a run: a plugin loss or backbone (a
``./file.py:Class``, ``package.module:Class`` or entry-point name, ``modbench/plugins.py``).

``user_code_error`` turns an exception whose traceback passes through the user's file into one
``RunError`` line naming the component, its file, the loss label, the run key and the epoch,
e.g. ``loss 'AM-softmax' (./my_losses.py:NormFace), run 3f2a..., epoch 1: RuntimeError: ...``.
An exception raised in modbench's own code only (no frame in a user's file) is left as it is.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from modbench.errors import RunError


class UserCodeError(RunError):
    """An exception raised inside a user's loss or backbone during a run (exit code 1)."""


def _user_files(kind: str, name: str, references) -> set[Path]:
    """The source files of ``name`` when it is a user's plugin (empty for built-in, ``pml:`` and
    ``timm:`` names)."""
    from modbench import plugins

    try:
        if kind == "loss":
            from modbench.losses import LOSSES, resolve_loss

            if name in LOSSES or name.startswith(("pml:", "timm:")):
                return set()
            files = resolve_loss(name, references).source_files
        else:
            files = plugins.backbone_source_files(name, references)
    except Exception:  # noqa: BLE001 - naming the culprit must never hide the error itself
        return set()
    return {Path(f).resolve() for f in files or ()}


def user_code_error(exc: BaseException, run, *, epoch: int | None) -> UserCodeError | None:
    """The one-line error naming the user's component that ``exc`` went through (the innermost
    such frame decides), or None when the traceback has no frame in a user's file. ``epoch``:
    1-based, the epoch being trained (0 while the model and loss are built, None during the
    test evaluation)."""
    cfg = run.config
    references = getattr(run, "references", None)
    loss, backbone = cfg["loss"]["name"], cfg["backbone"]["name"]
    owners = {f: "loss" for f in _user_files("loss", loss, references)}
    owners.update({f: "backbone" for f in _user_files("backbone", backbone, references)})
    if not owners:
        return None
    kind = None
    for frame in traceback.extract_tb(exc.__traceback__):
        try:
            kind = owners.get(Path(frame.filename).resolve(), kind)
        except OSError:
            continue
    if kind is None:
        return None
    if kind == "loss":
        who = f"loss '{run.label}' ({loss})"
    else:
        who = f"backbone '{backbone}' (loss '{run.label}')"
    when = "test evaluation" if epoch is None else f"epoch {epoch}" if epoch else "building the model and loss"
    first = (str(exc).splitlines() or [""])[0]
    return UserCodeError(f"{who}, run {run.key}, {when}: {type(exc).__name__}: {first}")
