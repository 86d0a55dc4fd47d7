from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_fixture_data.py"


def test_script_writes_loadable_fixtures(tmp_path, load):
    out = tmp_path / "fx"
    result = subprocess.run([sys.executable, str(SCRIPT), str(out), "--per-class", "3",
                             "--test-per-class", "2"], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    for name, k in (("cifar10", 10), ("cifar100", 100), ("fashion-mnist", 10)):
        s = load(name, out)
        assert len(s.train_labels) + len(s.val_labels) == 3 * k
        assert len(s.test_labels) == 2 * k


def test_script_refuses_too_few_images(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "fx"), "--per-class",
                             "1"], capture_output=True, text=True)
    assert result.returncode == 2 and "--per-class" in result.stderr
    assert not (tmp_path / "fx").exists()


def test_script_writes_fashion_mnist_gz(tmp_path, load):
    out = tmp_path / "fx"
    result = subprocess.run([sys.executable, str(SCRIPT), str(out), "--gz"], capture_output=True,
                            text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    raw = sorted(p.name for p in (out / "FashionMNIST" / "raw").iterdir())
    assert raw and all(name.endswith(".gz") for name in raw)
    assert len(load("fashion-mnist", out).test_labels) == 40
