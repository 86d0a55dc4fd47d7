"""The real CUB-200-2011, Cars196, SOP and In-Shop, where ``$MODBENCH_DATA`` holds them (each
test skips, saying why, when its files are absent): the published sizes of the standard splits.

The numbers are the publishers' and the papers' (images per split, classes per split), written
out here, not computed by the loader. Images are decoded at 8 px to keep the run short.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modbench.datasets import DATASETS, locate

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

# name -> (train + validation images, training classes, test images, test classes)
PUBLISHED = {
    "cub200": (5864, 100, 5924, 100),
    "cars196": (8054, 98, 8131, 98),
    "sop": (59551, 11318, 60502, 11316),
    "inshop": (25882, 3997, 14218 + 12612, 3985),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_split_sizes(name):
    root = os.environ.get("MODBENCH_DATA")
    if not root or locate.retrieval_files(name, Path(root)) is None:
        pytest.skip(f"real {name} not found under $MODBENCH_DATA ({root or 'unset'}; docs/datasets.md has the layout)")
    s = DATASETS.get(name)(data_dir=Path(root), download=False, val_fraction=0.1, split_seed=0, subset=None,
                           labels=None, image_size=8)
    train_images, train_classes, test_images, test_classes = PUBLISHED[name]
    sizes = s.sizes()
    assert sizes["train"] + sizes["val"] == train_images
    assert s.num_classes + len(set(s.val_labels.tolist())) == train_classes
    assert sizes["test"] == test_images and len(set(s.test_labels.tolist())) == test_classes
    if name == "inshop":
        assert int(s.test_query_mask.sum()) == 14218
