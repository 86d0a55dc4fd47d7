"""The backbone registry: built-ins found from their files' decorators, torch-free listing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import modbench
from modbench.backbones import BACKBONES
from modbench.registry import discover

ROOT = Path(modbench.__file__).resolve().parent.parent


def test_builtin_backbones_from_their_decorators():
    assert BACKBONES.names() == ["googlenet", "resnet18", "resnet50", "small-cnn"]
    assert BACKBONES.entry("resnet50").target == "modbench.backbones.resnet:build_resnet50"
    assert BACKBONES.get("small-cnn").backbone_name == "small-cnn"


def test_a_new_backbone_is_one_file(tmp_path):
    (tmp_path / "wide.py").write_text(
        "from modbench.backbones.base import register_backbone\n"
        "@register_backbone('wide-cnn', description='A wide CNN.')\n"
        "def make(*, in_channels, image_size, pretrained=False):\n    raise NotImplementedError\n"
    )
    assert discover(tmp_path, "pkg", "register_backbone") == [("wide-cnn", "pkg.wide:make", "A wide CNN.")]


def test_listing_imports_no_torch():
    code = ("import sys; from modbench.backbones import BACKBONES, backbone_lines; backbone_lines(); "
            "BACKBONES.knows('./x.py:Net'); assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_in_means_built_in_knows_takes_every_form():
    assert "small-cnn" in BACKBONES and BACKBONES.knows("small-cnn")
    for name in ("./nets.py:Net", "pkg.mod:Net", "timm:resnet18"):
        assert name not in BACKBONES and BACKBONES.knows(name)
    assert not BACKBONES.knows("resnet:18") and not BACKBONES.knows("small_cnn")
