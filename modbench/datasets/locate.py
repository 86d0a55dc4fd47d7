"""Which files a built-in dataset reads, found without torch, and a digest of their bytes.

The retrieval datasets (``RETRIEVAL``: cub200, cars196, sop, inshop) are digested by the bytes
of their annotation files and the names, sizes and modification times of their images.

The run key of a Fashion-MNIST or CIFAR run holds ``dataset.files_digest``: a sha256 of the
names and bytes of the files its loader reads (``data_files``). Fixture files and the real
ones, train and test swapped, or foreign idx files in the same folder therefore give other
keys, and a result computed on other data is never served for these. The loaders find their
files through the same functions (``fashion_mnist.py`` imports ``fashion_candidates`` and
``fashion_files_in``), so the digest covers the files actually read.

Hashing reads every byte once per process and file (about 0.1 s for the 30 MB of the real
Fashion-MNIST ``.gz`` files): the digest of a file is remembered under its path, size,
modification time and inode, so a file replaced or edited is read again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

# Fashion-MNIST: the four idx files, each NAME or NAME.gz.
FASHION_FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist

# CIFAR: torchvision's folder and file names (``CIFAR10.base_folder``, ``train_list``,
# ``test_list``, ``meta``), written out so that finding them needs no torchvision import;
# tests/datasets/test_locate.py checks them against torchvision's classes.
CIFAR_FILES = {
    "cifar10": ("cifar-10-batches-py",
                [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"]),
    "cifar100": ("cifar-100-python", ["train", "test", "meta"]),
}

ABSENT = "absent"  # the digest of a dataset whose files are not there (yet: --download)

# The retrieval datasets: folder under the data folder, the annotation files read (bytes
# digested), the folder of the images (names, sizes and modification times digested, as for a
# user's folder: paths.files_digest; reading every image's bytes would take minutes).
RETRIEVAL = {
    "cub200": ("CUB_200_2011", ["images.txt", "image_class_labels.txt", "classes.txt"], "images"),
    "cars196": ("cars196", ["cars_annos.mat"], "car_ims"),
    "sop": ("Stanford_Online_Products", ["Ebay_train.txt", "Ebay_test.txt"], "."),
    "inshop": ("InShop", ["list_eval_partition.txt"], "img"),
}
INSHOP_PARTITION = "list_eval_partition.txt"


def inshop_partition(folder: Path) -> Path | None:
    """In-Shop's partition file: the publisher's ``Eval/`` folder, else beside ``img/``."""
    for candidate in (folder / "Eval" / INSHOP_PARTITION, folder / INSHOP_PARTITION):
        if candidate.is_file():
            return candidate
    return None


def inshop_image_root(folder: Path) -> Path:
    """The folder In-Shop's ``img/...`` names are relative to: the publisher's ``Img/``, else
    the dataset folder."""
    return folder / "Img" if (folder / "Img" / "img").is_dir() else folder


def retrieval_files(name: str, root: Path) -> tuple[list[Path], Path] | None:
    """(annotation files, image folder) of retrieval dataset ``name`` under ``root``, or None
    when an annotation file is missing."""
    base, names, images = RETRIEVAL[name]
    folder = root / base
    if name == "inshop":
        partition = inshop_partition(folder)
        return None if partition is None else ([partition], inshop_image_root(folder) / "img")
    files = [folder / f for f in names]
    return (files, folder / images) if all(p.is_file() for p in files) else None


def fashion_candidates(root: Path | None, debian: Path = DEBIAN_DIR) -> list[Path]:
    """The folders Fashion-MNIST is looked for in, in order (``fashion_mnist.py``)."""
    return [root / "FashionMNIST" / "raw", root] if root is not None else [debian]


def fashion_files_in(folder: Path) -> dict[str, Path | None]:
    """Each of the four files in ``folder``: the unpacked file, else its ``.gz``, else None."""
    found: dict[str, Path | None] = {}
    for f in FASHION_FILES:
        plain, packed = folder / f, folder / f"{f}.gz"
        found[f] = plain if plain.is_file() else packed if packed.is_file() else None
    return found


def data_files(name: str, data_dir: Path | str | None) -> list[Path] | None:
    """The files dataset ``name`` reads with ``--data-dir data_dir``, in the loader's order, or
    None when it reads none through the data folder (digits, a user's ``path``) or they are not
    all there."""
    root = Path(data_dir).expanduser() if data_dir is not None else None
    if name == "fashion-mnist":
        for folder in fashion_candidates(root):
            files = fashion_files_in(folder)
            if all(p is not None for p in files.values()):
                return [files[f] for f in FASHION_FILES]
        return None
    if name in CIFAR_FILES:
        if root is None:
            return None
        base, names = CIFAR_FILES[name]
        paths = [root / base / f for f in names]
        return paths if all(p.is_file() for p in paths) else None
    return None


def reads_data_dir(name: str) -> bool:
    """Whether the run key of dataset ``name`` holds a digest of files found through --data-dir."""
    return name == "fashion-mnist" or name in CIFAR_FILES or name in RETRIEVAL


_MEMO: dict[tuple, str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, computed once per process for each (path, size, mtime, inode)."""
    st = path.stat()
    memo_key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)
    if memo_key not in _MEMO:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _MEMO[memo_key] = digest.hexdigest()
    return _MEMO[memo_key]


def data_digest(name: str, data_dir: Path | str | None) -> str | None:
    """``files_digest`` of dataset ``name`` read with ``data_dir``: sha256 (first 16 hex digits)
    over the role and the bytes of each file read (so swapping two files changes it), ``ABSENT``
    when the files are not all there, None for a dataset that reads none through the folder."""
    if not reads_data_dir(name):
        return None
    if name in RETRIEVAL:
        found = retrieval_files(name, Path(data_dir).expanduser()) if data_dir is not None else None
        if found is None:
            return ABSENT
        annotations, images = found
        h = hashlib.sha256()
        for i, path in enumerate(annotations):
            h.update(f"{i}:{path.name}\0{file_sha256(path)}\n".encode())
        h.update(f"images\0{stat_digest(images) if images.is_dir() else 'none'}\n".encode())
        return h.hexdigest()[:16]
    files = data_files(name, data_dir)
    if files is None:
        return ABSENT
    h = hashlib.sha256()
    for i, path in enumerate(files):
        h.update(f"{i}:{path.name}\0{file_sha256(path)}\n".encode())
    return h.hexdigest()[:16]


def walk_files(path: Path) -> list[Path]:
    """Every file at ``path`` (a file, or everything under a folder), following symbolic links
    to folders as a loader reading through them does (``Path.rglob`` does not follow them);
    each real folder is walked once, so a link loop ends."""
    if path.is_file():
        return [path]
    out: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for folder, dirs, files in os.walk(path, followlinks=True):
        st = os.stat(folder)
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs.sort()
        out += [Path(folder) / f for f in files if (Path(folder) / f).is_file()]
    return sorted(out)


def stat_digest(path: Path) -> str:
    """sha256 (first 16 hex digits) of the relative name, size and modification time of every
    file at ``path`` (``walk_files``): ``stat`` calls only (``paths.files_digest``)."""
    h = hashlib.sha256()
    for f in walk_files(path):
        st = f.stat()
        name = f.name if f == path else f.relative_to(path).as_posix()
        h.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]
