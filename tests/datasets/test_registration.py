"""Datasets declare themselves in their own file (``@register_dataset``), read with ``ast``."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from modbench.datasets import DATASETS, TAKES_IMAGE_SIZE, TAKES_PATH
from modbench.registry import discover


def test_every_builtin_is_registered_from_its_file():
    assert DATASETS.names() == ["cars196", "cifar10", "cifar100", "cub200", "digits", "fashion-mnist", "folder",
                                "inshop", "npz", "sop"]
    assert TAKES_PATH == {"folder", "npz"}
    assert TAKES_IMAGE_SIZE == {"cub200", "cars196", "sop", "inshop"}
    for name in DATASETS.names():
        loader = DATASETS.get(name)  # imports the module: its decorator ran
        declared = loader.modbench_dataset
        entry = DATASETS.entry(name)
        # What ast read from the file is what the decorator declared when the module ran.
        assert (declared.name, declared.target, declared.description) == (name, entry.target, entry.description)
        assert declared.takes_path == (name in TAKES_PATH)
        assert declared.takes_image_size == (name in TAKES_IMAGE_SIZE)


def test_listing_imports_no_torch():
    code = ("import sys; from modbench.datasets import DATASETS; DATASETS.describe(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_new_file_is_a_new_dataset(tmp_path):
    (tmp_path / "mine.py").write_text(textwrap.dedent('''
        from modbench.datasets.registration import register_dataset

        @register_dataset("mine", description="My set.", takes_path=True)
        def load(**kwargs):
            raise NotImplementedError

        def helper():
            pass
    '''))
    (tmp_path / "_private.py").write_text("@register_dataset('hidden', description='x')\ndef f(): pass\n")
    found = discover(tmp_path, "pkg", "register_dataset", keywords=("takes_path",))
    assert found == [("mine", "pkg.mine:load", "My set.", {"takes_path": True})]


def test_a_declaration_ast_cannot_read_is_refused(tmp_path):
    (tmp_path / "bad.py").write_text("NAME = 'x'\n@register_dataset(NAME, description='d')\ndef f(): pass\n")
    with pytest.raises(ValueError, match="string literal"):
        discover(tmp_path, "pkg", "register_dataset")
