"""Opening a study storage leaves nothing behind that the user did not ask for: no ``.lock`` file
beside a SQLite database that cannot be opened, none for an in-memory database."""

from __future__ import annotations

import os

import pytest

from modbench.errors import UserError
from modbench.tune import study as st


def test_an_in_memory_database_leaves_no_lock_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    st.open_storage("sqlite:///:memory:")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("kind", ["missing-folder", "a-folder", "not-a-database"])
def test_a_database_that_cannot_be_opened_leaves_no_lock_file(tmp_path, kind):
    if kind == "missing-folder":
        path = tmp_path / "no" / "such" / "studies.db"
    elif kind == "a-folder":
        path = tmp_path / "studies.db"
        path.mkdir()
    else:
        path = tmp_path / "studies.db"
        path.write_bytes(b"this is not SQLite\n" * 100)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(UserError, match="cannot open the study database"):
        st.open_storage(f"sqlite:///{path}")
    assert sorted(os.listdir(tmp_path)) == before


def test_a_database_that_opens_keeps_its_creation_lock(tmp_path):
    """The lock beside a working database stays: it serialises the creation of its tables."""
    st.open_storage(f"sqlite:///{tmp_path / 'ok.db'}")
    assert sorted(os.listdir(tmp_path)) == ["ok.db", "ok.db.lock"]
