"""The ``--device`` names, checked without importing torch (the one check: ``engine.runner``'s
``resolve_device`` calls it; commands that submit work elsewhere, such as ``tune --launcher
slurm``, call it before anything is submitted)."""

from __future__ import annotations

from modbench.errors import UserError

DEVICE_NAMES = ("auto", "cpu", "cuda")


def check_device_name(name: str) -> str:
    if name not in DEVICE_NAMES:
        raise UserError(f"--device {name}: choose {', '.join(DEVICE_NAMES[:-1])} or {DEVICE_NAMES[-1]}")
    return name
