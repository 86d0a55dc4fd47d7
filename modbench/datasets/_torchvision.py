"""What the torchvision-backed loaders share: the data folder, the fixture marker, downloads.

* ``data_root``: ``data_dir`` is resolved by the engine from ``--data-dir`` else
  ``$MODBENCH_DATA``; None here is a UserError that says so.
* Missing files without ``download``: one-line UserError naming the dataset, the folder looked in
  and ``--download``; checked before torchvision is called, so nothing is written.
* Files that fail torchvision's checks (published md5 sums for CIFAR, the idx parser for
  Fashion-MNIST): UserError that says to delete the folder and pass ``--download``.
* ``--download``: torchvision downloads into a fresh temporary folder under the data folder; only
  when it succeeded are the files moved into place (``os.replace``, file by file). An interrupted
  or failed download leaves no partial files in the dataset folder.
* Fixture files (synthetic data for tests and smoke runs, written by ``scripts/fixture_data.py``
  outside the package) carry a marker file ``MODBENCH_FIXTURE`` inside the dataset's own folder
  (e.g. ``cifar-10-batches-py/MODBENCH_FIXTURE``): a JSON manifest ``{"files": {name: md5}}`` of
  every file the writer produced. Recognising that marker is the only fixture knowledge the
  package keeps, so that a result on synthetic data says so (``fixture: true`` in its dataset
  info, a deviation in every table). Where it exists, the loader hands torchvision
  those md5 sums instead of the published ones, so torchvision's own integrity check still runs
  (a corrupted fixture is refused too) and a ``UserWarning`` says the data is synthetic. Where it
  does not, the published sums apply unchanged: real files keep their check.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

from modbench.errors import RunError, UserError

MARKER = "MODBENCH_FIXTURE"

# Errors torchvision's loaders raise on missing, truncated or foreign files.
BAD_FILE_ERRORS = (
    RuntimeError,
    OSError,
    EOFError,
    pickle.UnpicklingError,
    KeyError,
    ValueError,
    TypeError,
    AssertionError,
    IndexError,
)


def data_root(name: str, data_dir: Path | str | None) -> Path:
    if data_dir is None:
        raise UserError(
            f"dataset '{name}' needs a data folder: pass --data-dir DIR or set MODBENCH_DATA "
            "(add --download to fetch the files into it)"
        )
    return Path(data_dir).expanduser()


def md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path) -> dict[str, str] | None:
    """The fixture manifest ``{file name: md5}`` of ``folder``, or None for real data."""
    marker = folder / MARKER
    if not marker.is_file():
        return None
    try:
        manifest = json.loads(marker.read_text())
        files = manifest["files"]
        if not isinstance(files, dict):
            raise TypeError("files is not a mapping")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"unreadable fixture marker {marker} ({e}); delete it or rewrite the "
                        "fixtures with scripts/make_fixture_data.py") from None
    warnings.warn(
        f"{folder} holds modbench fixture files (marker {MARKER}): synthetic images checked "
        "against the marker's md5 sums, not the published ones; results on it measure nothing",
        UserWarning,
        stacklevel=3,
    )
    return {str(k): str(v) for k, v in files.items()}


def missing_error(name: str, folder: Path, missing: list[str]) -> UserError:
    return UserError(
        f"dataset '{name}' not found: {folder} lacks {missing[0]}"
        + (f" and {len(missing) - 1} more file(s)" if len(missing) > 1 else "")
        + "; pass --download to fetch it, or --data-dir to the folder that holds "
        + folder.name
    )


def corrupted_error(name: str, folder: Path, why: object) -> UserError:
    return UserError(
        f"dataset '{name}': files in {folder} fail torchvision's checks ({why}); "
        f"delete {folder} and pass --download to fetch them again"
    )


def download_into(name: str, root: Path, folder_name: str, fetch: Callable[[Path], None]) -> None:
    """Run ``fetch(tmp_root)`` (a torchvision download) and move ``tmp_root/folder_name`` into
    ``root/folder_name`` only when it succeeded; on any failure nothing new stays behind."""
    created_root = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".modbench-download-{name}-", dir=root))
    try:
        try:
            fetch(tmp)
        except Exception as e:  # network, disk, checksum of the archive...
            raise RunError(f"dataset '{name}': download failed ({type(e).__name__}: "
                           f"{str(e).splitlines()[0] if str(e) else ''}); nothing was written "
                           f"to {root}") from e
        src = tmp / folder_name
        dst = root / folder_name
        stale_marker = dst / MARKER  # real files replace fixture files
        if stale_marker.exists():
            stale_marker.unlink()
        for file in sorted(p for p in src.rglob("*") if p.is_file()):
            target = dst / file.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(file, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if created_root and root.exists() and not any(root.iterdir()):
            root.rmdir()
