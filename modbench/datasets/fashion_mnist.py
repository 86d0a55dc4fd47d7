"""``fashion-mnist``: the four idx files, unpacked (torchvision's ``FashionMNIST``) or as the
``.gz`` files Zalando publishes (read without unpacking, ``modbench.datasets.idx``).

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
from torchvision.datasets import FashionMNIST

from modbench.datasets import _torchvision as tv
from modbench.datasets import idx, locate
from modbench.datasets.base import DataSplits
from modbench.datasets.registration import register_dataset
from modbench.datasets.splits import build_splits, check_arguments, reject_labels
from modbench.errors import UserError

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


def _open_torchvision(name: str, root: Path, download: bool):
    """(train, test) torchvision datasets from DATA/FashionMNIST/raw (unpacked), downloading
    into a temporary folder first with ``download`` when the files are absent or damaged."""
    folder = root / "FashionMNIST"
    raw = folder / "raw"
    have = not any(p is None or p.suffix == ".gz" for p in _files_in(raw).values())

    def construct():
        manifest = tv.read_manifest(folder)
        if manifest is not None:
            bad = [f for f in RAW_FILES if manifest.get(f"raw/{f}") != tv.md5(raw / f)]
            if bad:
                raise RuntimeError(f"{bad[0]} does not match the fixture marker's md5 sum")
        return FashionMNIST(str(root), train=True), FashionMNIST(str(root), train=False)

    if have:
        try:
            return construct()
        except tv.BAD_FILE_ERRORS as e:
            if not download:
                raise tv.corrupted_error(name, raw, e) from None
    tv.download_into(name, root, "FashionMNIST",
                     lambda tmp: FashionMNIST(str(tmp), train=True, download=True))
    try:
        return construct()
    except tv.BAD_FILE_ERRORS as e:
        raise tv.corrupted_error(name, raw, e) from None


def _open(name: str, root: Path | None, download: bool):
    """The four arrays (uint8 numpy or torch) and the folder they came from."""
    looked = _candidates(root)
    for folder in looked:
        files = _files_in(folder)
        if any(p is None for p in files.values()):
            continue
        if folder == looked[0] and root is not None and not any(p.suffix == ".gz" for p in files.values()):
            train, test = _open_torchvision(name, root, download)  # unpacked: as before
            return (train.data, train.targets, test.data, test.targets), folder, \
                "torchvision.datasets.FashionMNIST"
        arrays = [torch.from_numpy(a.copy()) for a in _read_gz_layout(name, folder, files)]
        return arrays, folder, "modbench.datasets.idx (idx files, gzip read in memory)"
    if download:
        root = tv.data_root(name, root)  # a download needs a folder to write to (UserError)
        train, test = _open_torchvision(name, root, download)
        return (train.data, train.targets, test.data, test.targets), looked[0], \
            "torchvision.datasets.FashionMNIST"
    raise _not_found(name, root, looked)


@register_dataset(
    "fashion-mnist",
    description="Fashion-MNIST (idx files, .gz or unpacked; Debian's dataset-fashion-mnist found by default; 28x28 grey, 10 classes, 60k / 10k).",
)
def load(*, data_dir: Path | None, download: bool = False, val_fraction: float = 0.1,
         split_seed: int = 0, subset: int | None = None, labels: str | None = None) -> DataSplits:
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
        num_classes=len(FashionMNIST.classes),
        val_fraction=val_fraction,
        split_seed=split_seed,
        subset=subset,
        augment="crop-flip",
        classes=list(FashionMNIST.classes),
        info={
            "source": source,
            "folder": str(folder),
            "fixture": (marker_folder / tv.MARKER).is_file(),
        },
    )
