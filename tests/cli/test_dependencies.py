"""What the README's commands need is installed by the README's `pip install .`:
matplotlib for `report --plots`, tensorboard for `--tensorboard`."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
from packaging.requirements import Requirement  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def base_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {Requirement(r).name: Requirement(r) for r in project["dependencies"]}


@pytest.mark.parametrize("name", ["matplotlib", "tensorboard"])
def test_readme_features_are_base_dependencies(name):
    reqs = base_requirements()
    assert name in reqs, f"{name} must be a base dependency (README commands use it)"
    assert reqs[name].specifier.contains(version(name)), "the tested version must satisfy the range"


def test_plots_extra_is_an_empty_alias():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras.get("plots") == []  # `pip install modbench[plots]` from older docs still works
