"""``fashion-mnist``: the four idx files, unpacked or as the ``.gz`` files Zalando publishes, read
by modbench's own idx parser (``modbench.datasets.idx``, gzip read in memory). torchvision is
imported only for ``--download`` (its ``FashionMNIST`` fetches and unpacks the archives): reading
files that are already there costs no torchvision import (about 1.3 s of CPU per process).

Where the files are looked for, in order (the first folder that holds all four wins; each file may
be ``NAME`` or ``NAME.gz``):

* with a data folder (``--data-dir`` else ``$MODBENCH_DATA``): ``DATA/FashionMNIST/raw/`` (where
  torchvision and ``--download`` put them), then ``DATA/`` itself (so ``--data-dir`` can point at
  a folder that holds just the four files);
* without one: ``/usr/share/datasets/fashion-mnist/``, where Debian's ``dataset-fashion-mnist``
  package installs the ``.gz`` files (``apt-get install dataset-fashion-mnist``).

When nothing is found the error names every folder looked in. ``--download`` (which needs a data
folder) fetches and unpacks the archives only when the files are not already there, checking
their published md5 sums. torchvision does not checksum the unpacked files and Debian recompresses
the ``.gz`` ones (their md5 sums differ from Zalando's): the idx parser refuses truncated or
foreign files, and the loader checks the counts and shape. In a fixture folder (marker
``FashionMNIST/MODBENCH_FIXTURE``) the files are also checked against the marker's md5 sums.

One channel, 28x28, 10 classes; official train 60,000 -> train + validation, official test 10,000
-> test. Augmentation ``crop-flip`` (pad 4, random 28x28 crop, horizontal flip): every class
(shirts, trousers, bags, shoes...) keeps its label under a left-right flip, unlike digits, and the
paper suites then use one augmentation family for all three datasets. Cost of that choice: in the
data every shoe points left, so flipped shoes are images the test split never shows.
"""

from __future__ import annotations

from pathlib import Path

import torch

from modbench.datasets import _torchvision as tv
from modbench.datasets import idx, locate
from modbench.datasets.base import DataSplits
from modbench.datasets.protocol import build_splits
from modbench.datasets.registration import register_dataset
from modbench.datasets.splits import check_arguments, reject_labels
from modbench.errors import UserError

# torchvision's FashionMNIST.classes, spelled out so that reading the files needs no torchvision.
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]

# Where the files are looked for: one set of functions for the loader and for the run key's
# digest of the files read (locate.py).
RAW_FILES = locate.FASHION_FILES
DEBIAN_DIR = locate.DEBIAN_DIR


def _candidates(root: Path | None) -> list[Path]:
    return locate.fashion_candidates(root, DEBIAN_DIR)


_files_in = locate.fashion_files_in


def _not_found(name: str, root: Path | None, looked: list[Path]) -> UserError:
    if root is None:
        return UserError(
            f"dataset '{name}' not found: looked in {looked[0]} (Debian's dataset-fashion-mnist: "
            "apt-get install dataset-fashion-mnist); pass --data-dir DIR or set MODBENCH_DATA to "
            "the folder that holds FashionMNIST/raw/ (add --download to fetch the files into it)"
        )
    raw = looked[0]
    missing = [f for f, p in _files_in(raw).items() if p is None]
    error = tv.missing_error(name, raw, missing)
    debian = ""
    if all(p is not None for p in _files_in(DEBIAN_DIR).values()):
        debian = (f"; {DEBIAN_DIR} has the files, and is read when neither --data-dir nor "
                  "MODBENCH_DATA is set")
    return UserError(f"{error} (each file may also be NAME.gz; also looked in {looked[1]}){debian}")


def _read_gz_layout(name: str, folder: Path, files: dict[str, Path]):
    """(train images, train labels, test images, test labels) as uint8 numpy arrays, read with
    ``idx.read_idx`` (plain or gzip), checked against a fixture marker where there is one."""
    marker_folder = folder.parent if folder.name == "raw" else folder
    manifest = tv.read_manifest(marker_folder) if (marker_folder / tv.MARKER).is_file() else None
    arrays = []
    for f in RAW_FILES:
        path = files[f]
        if manifest is not None and manifest.get(f"raw/{path.name}") != tv.md5(path):
            raise UserError(f"dataset '{name}': {path} does not match the fixture marker's md5 sum;"
                            " rewrite the fixtures with scripts/make_fixture_data.py")
        try:
            arrays.append(idx.read_idx(path, ndim=3 if "images" in f else 1))
        except idx.IdxError as e:
            raise UserError(f"dataset '{name}': {path} is not a valid idx file ({e}); replace it "
                            "with the published file") from None
    train_x, train_y, test_x, test_y = arrays
    for images, labels, split in ((train_x, train_y, "train"), (test_x, test_y, "t10k")):
        if images.shape[1:] != (28, 28) or len(images) != len(labels) or labels.max(initial=0) > 9:
            raise UserError(
                f"dataset '{name}': the {split} files in {folder} do not hold 28x28 images with one "
                f"label 0-9 each (images {images.shape}, labels {labels.shape}); replace them with "
                "the published files"
            )
    return arrays


def _damaged_error(name: str, raw: Path, why: UserError) -> UserError:
    return UserError(f"{why} (delete {raw} and pass --download to fetch the files again)")


def _download(name: str, root: Path) -> None:
    """Fetch and unpack the four files into DATA/FashionMNIST/raw with torchvision's
    ``FashionMNIST`` (published md5 sums checked), through a temporary folder."""
    from torchvision.datasets import FashionMNIST  # only here: ~1.3 s of import

    tv.download_into(name, root, "FashionMNIST",
                     lambda tmp: FashionMNIST(str(tmp), train=True, download=True))


def _open_unpacked(name: str, root: Path, download: bool):
    """The four arrays from DATA/FashionMNIST/raw (unpacked), downloading into a temporary
    folder first with ``download`` when the files are absent or damaged."""
    raw = root / "FashionMNIST" / "raw"
    files = _files_in(raw)
    if not any(p is None or p.suffix == ".gz" for p in files.values()):
        try:
            return _read_gz_layout(name, raw, files)
        except UserError as e:
            if not download:
                raise _damaged_error(name, raw, e) from None
    _download(name, root)
    try:
        return _read_gz_layout(name, raw, _files_in(raw))
    except UserError as e:
        raise _damaged_error(name, raw, e) from None


def _open(name: str, root: Path | None, download: bool):
    """The four arrays (uint8 numpy or torch) and the folder they came from."""
    looked = _candidates(root)
    for folder in looked:
        files = _files_in(folder)
        if any(p is None for p in files.values()):
            continue
        if folder == looked[0] and root is not None and not any(p.suffix == ".gz" for p in files.values()):
            arrays = [torch.from_numpy(a.copy()) for a in _open_unpacked(name, root, download)]
            return arrays, folder, "modbench.datasets.idx (unpacked idx files)"
        arrays = [torch.from_numpy(a.copy()) for a in _read_gz_layout(name, folder, files)]
        return arrays, folder, "modbench.datasets.idx (idx files, gzip read in memory)"
    if download:
        root = tv.data_root(name, root)  # a download needs a folder to write to (UserError)
        arrays = [torch.from_numpy(a.copy()) for a in _open_unpacked(name, root, download)]
        return arrays, looked[0], "modbench.datasets.idx (unpacked idx files)"
    raise _not_found(name, root, looked)


@register_dataset(
    "fashion-mnist",
    description="Fashion-MNIST (idx files, .gz or unpacked; Debian's dataset-fashion-mnist found by default; 28x28 grey, 10 classes, 60k / 10k).",
)
def load(*, data_dir: Path | None, download: bool = False, val_fraction: float = 0.1,
         split_seed: int = 0, subset: int | None = None, labels: str | None = None,
         split: dict | None = None) -> DataSplits:
    name = "fashion-mnist"
    reject_labels(name, labels)
    check_arguments(name, val_fraction=val_fraction, subset=subset)
    root = Path(data_dir).expanduser() if data_dir is not None else None
    (train_x, train_y, test_x, test_y), folder, source = _open(name, root, download)
    marker_folder = folder.parent if folder.name == "raw" else folder
    return build_splits(
        name=name,
        train_images=train_x.unsqueeze(1).contiguous(),  # uint8 [N, 1, 28, 28]
        train_labels=train_y.to(torch.int64),
        test_images=test_x.unsqueeze(1).contiguous(),
        test_labels=test_y.to(torch.int64),
        num_classes=len(CLASSES),
        val_fraction=val_fraction,
        split_seed=split_seed,
        subset=subset,
        augment="crop-flip",
        classes=list(CLASSES),
        split=split,
        info={
            "source": source,
            "folder": str(folder),
            "fixture": (marker_folder / tv.MARKER).is_file(),
        },
    )
