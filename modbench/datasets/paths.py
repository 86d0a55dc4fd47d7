"""Where a suite's own data is: ``dataset.path`` resolved once, when the suite is loaded.

A relative ``path`` is relative to the suite file's folder (so a suite and its data can move
together); a suite given as a dict (the Python API) has no file, and its relative paths are
relative to the current directory. The absolute path is what the run's configuration holds, and
so what the loader reads. Torch-free: the suite loader calls this.
"""

from __future__ import annotations

from pathlib import Path

from modbench.errors import UserError


class DatasetSpecError(UserError):
    """A problem with the suite's ``dataset`` keys; ``key`` is the key path (``dataset.path``)."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(message)


def resolve_data_path(path: str | Path, base_dir: str | Path | None = None) -> Path:
    """``path`` made absolute against ``base_dir`` (the suite file's folder; None: the current
    directory), ``~`` expanded. The one place relative data paths are resolved."""
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = Path(base_dir if base_dir is not None else Path.cwd()) / p
    return Path(p.resolve(strict=False))


def resolve_dataset(dataset, base_dir: str | Path | None = None):
    """The suite's ``DatasetConfig`` with ``path`` absolute; DatasetSpecError when a key does not
    fit the dataset (a path missing, given where none is read, or pointing at nothing)."""
    from modbench.datasets import TAKES_IMAGE_SIZE, TAKES_PATH

    name = dataset.name
    if name not in TAKES_PATH:
        for key in ("path", "image_size", "files_digest"):
            if key == "image_size" and name in TAKES_IMAGE_SIZE:
                continue
            if getattr(dataset, key) is not None:
                takers = TAKES_PATH | TAKES_IMAGE_SIZE if key == "image_size" else TAKES_PATH
                raise DatasetSpecError(
                    f"dataset.{key}",
                    f"dataset '{name}' takes no {key} (only {', '.join(sorted(takers))} do); "
                    "remove the key",
                )
        return dataset
    if dataset.path is None:
        what = "a folder with train/ and test/" if name == "folder" else "a .npz file"
        raise DatasetSpecError("dataset.path", f"dataset '{name}' needs path: {what} "
                                               "(relative to the suite file, or absolute)")
    path = resolve_data_path(dataset.path, base_dir)
    if not path.exists():
        raise DatasetSpecError("dataset.path", f"{path} does not exist")
    return dataset.model_copy(update={"path": str(path), "files_digest": files_digest(path)})


def files_digest(path: Path) -> str:
    """sha256 (first 16 hex digits) of the relative name, size and modification time of every
    file at ``path`` (a file, or everything under a folder, through symbolic links to folders as
    the loader reads through them: ``locate.walk_files``). Only ``stat`` calls, no reading, so
    that loading a suite (also for ``report``) stays fast on a large image folder; a file edited,
    added, removed or touched changes it, and so the run's key: its runs train again."""
    from modbench.datasets.locate import stat_digest

    return stat_digest(path)
