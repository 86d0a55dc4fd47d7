"""Shared fixtures: a private cache per test, tiny suite files, a CLI runner."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from helpers import TINY_SUITE


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Every test gets its own cache; nothing reads or writes ~/.cache/modbench."""
    monkeypatch.setenv("MODBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MODBENCH_DEBUG", raising=False)


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def write_suite(tmp_path):
    """write_suite(dict_or_text, name="suite.yaml") -> path of the written YAML file."""

    def _write(content, name: str = "suite.yaml") -> Path:
        path = tmp_path / name
        if isinstance(content, (dict, list)):
            path.write_text(yaml.safe_dump(content, sort_keys=False))
        else:
            path.write_text(textwrap.dedent(content))
        return path

    return _write


@pytest.fixture
def tiny_suite(write_suite) -> Path:
    return write_suite(TINY_SUITE, "tiny.yaml")


@pytest.fixture
def cli():
    """cli(*args) -> click Result with .exit_code, .stdout, .stderr."""
    from modbench.cli.app import app

    runner = CliRunner()

    def _invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args])

    return _invoke
