"""Every module's ``__all__`` names what the module defines, and the code has no pyflakes defect.

The first test imports every module of the package and looks each name of its ``__all__`` up on
it (at run time, so a name set by a decorator, like a loss module's ``SPEC``, counts). The second
runs ruff's pyflakes rules (F: undefined names, unused imports and variables, ...) over the
package, the scripts, the benchmarks and the tests; it found an unused variable in the verdict's
bootstrap and unused imports in four files. ruff is a test dependency, so the check is never
skipped.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_import_graph import module_names  # the package's modules by dotted name

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(module_names())


def test_the_walk_finds_the_package():
    names = MODULES
    assert "modbench.losses.improved" in names and "modbench.cli.app" in names
    assert len(names) > 50


@pytest.mark.parametrize("name", MODULES)
def test_every_name_in_all_exists(name):
    module = importlib.import_module(name)
    listed = getattr(module, "__all__", [])
    missing = [n for n in listed if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ lists names it does not define: {missing}"


def ruff() -> list[str]:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if exe is None:
        pytest.fail("ruff is missing: it is in the test extras (pip install -e '.[test]')")
    return [exe]


def test_pyflakes_rules_pass():
    dirs = [d for d in ("modbench", "scripts", "benchmarks", "tests") if (ROOT / d).is_dir()]
    done = subprocess.run(
        [*ruff(), "check", "--no-cache", "--select", "F", "--output-format", "concise", *dirs],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_pyflakes_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('import json\n__all__ = ["SPEC"]\n')
    done = subprocess.run([*ruff(), "check", "--no-cache", "--select", "F", str(bad)],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert "F401" in done.stdout and "F822" in done.stdout
