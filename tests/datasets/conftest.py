from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

import fixture_data as fixtures


@pytest.fixture(scope="session")
def fixture_root(tmp_path_factory) -> Path:
    """All three fixture datasets, written once per session (read-only for tests)."""
    root = tmp_path_factory.mktemp("fixture-data")
    fixtures.write_all(root)
    return root


@pytest.fixture
def fixture_copy(fixture_root, tmp_path) -> Path:
    """A private copy of the fixture folder, for tests that damage files."""
    dst = tmp_path / "data"
    shutil.copytree(fixture_root, dst)
    return dst


def _load(name: str, data_dir, **overrides):
    from modbench.datasets import DATASETS

    kwargs = dict(data_dir=data_dir, download=False, val_fraction=0.1, split_seed=0, subset=None,
                  labels=None)
    kwargs.update(overrides)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*modbench fixture files.*")
        return DATASETS.get(name)(**kwargs)


def _tree(path: Path) -> list[str]:
    """Every path under ``path`` (relative), to show that nothing was written."""
    if not path.exists():
        return ["<absent>"]
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.fixture
def load():
    """``load(name, data_dir, **overrides)``: a registered loader called as the engine calls it,
    with the fixture warning silenced."""
    return _load


@pytest.fixture
def tree():
    """``tree(path)``: the sorted relative paths under ``path`` (``["<absent>"]`` if none)."""
    return _tree
