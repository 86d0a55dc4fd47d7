"""Where the cache is: an empty HOME or an unknown ``~user`` is a one-line user error (exit 2),
never a cache at /.cache/modbench or a RuntimeError."""

from __future__ import annotations

from pathlib import Path

import pytest

from modbench.cache.store import resolve_cache_root
from modbench.errors import UserError


def test_the_order_of_choices(tmp_path, monkeypatch):
    monkeypatch.setenv("MODBENCH_CACHE", str(tmp_path / "env"))
    assert resolve_cache_root(tmp_path / "flag") == tmp_path / "flag"
    assert resolve_cache_root() == tmp_path / "env"
    monkeypatch.delenv("MODBENCH_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_cache_root() == tmp_path / ".cache" / "modbench"


def test_an_empty_home_is_refused(monkeypatch):
    monkeypatch.delenv("MODBENCH_CACHE", raising=False)
    monkeypatch.setenv("HOME", "")
    with pytest.raises(UserError, match="HOME is empty"):
        resolve_cache_root()


def test_an_unknown_user_is_refused(cli, monkeypatch):
    with pytest.raises(UserError, match=r"--cache-dir ~nosuchuser-xyz/x: cannot expand"):
        resolve_cache_root(Path("~nosuchuser-xyz/x"))
    out = cli("report", "--cache-dir", "~nosuchuser-xyz/x")
    assert out.exit_code == 2 and out.stderr.strip().count("\n") == 0 and "cannot expand" in out.stderr
