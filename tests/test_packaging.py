"""The hand-written package list in pyproject.toml must name every package folder."""

from __future__ import annotations

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_is_listed():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "modbench").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert found | {"modbench.suites"} == listed


def test_builtin_suites_are_shipped_as_package_data():
    suites = sorted(p.stem for p in (ROOT / "suites").glob("*.yaml"))
    assert "digits" in suites
    from modbench.suite.loader import builtin_suite_names

    assert builtin_suite_names() == suites


def test_readme_says_how_to_install_the_cpu_build_of_torch_first():
    """The two main commands stay as written; the CPU-only install names PyTorch's CPU wheel index
    and comes before the usage section."""
    readme = (ROOT / "README.md").read_text()
    main = "python3 -m venv .venv && . .venv/bin/activate && pip install . && modbench compare --suite digits"
    tests = "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && pytest"
    assert main in readme and tests in readme
    cpu = "pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu"
    assert cpu in readme and readme.index(cpu) < readme.index("## Using it")
