"""Package versions recorded with every result (what could change a number).

The one place they are read (a torch-free leaf: the engine and the metrics both record them).
From the installed distributions' metadata, never by importing the packages.
"""

from __future__ import annotations

import platform
from functools import lru_cache
from importlib import metadata

import modbench


def package_versions() -> dict[str, str]:
    """{distribution: version}; read once per process (the packages a process has imported do
    not change while it runs)."""
    return dict(_package_versions())


@lru_cache(maxsize=1)
def _package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("modbench", "torch", "torchvision", "pytorch-metric-learning", "scikit-learn", "numpy", "faiss-cpu", "timm"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    if "modbench" not in out:
        out["modbench"] = modbench.__version__
    return out
