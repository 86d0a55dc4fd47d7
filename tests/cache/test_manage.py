"""modbench/cache/manage.py: run listing, ages, names, removal under the lock."""

from __future__ import annotations

import datetime as dt

import pytest

from modbench.cache.manage import find_runs, human_bytes, list_runs, parse_age, remove_runs
from modbench.cache.store import RunStore
from modbench.errors import UserError


@pytest.mark.parametrize("text,seconds", [("30d", 30 * 86400), ("12h", 43200), ("2w", 14 * 86400), ("90m", 5400),
                                          ("45s", 45), ("1.5h", 5400), (" 7D ", 7 * 86400)])
def test_parse_age(text, seconds):
    assert parse_age(text) == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "30", "d", "-1d", "30 days", "1e3s"])
def test_parse_age_refuses(text):
    with pytest.raises(UserError, match="--older-than"):
        parse_age(text)


def _runs(tmp_path, keys):
    store = RunStore(tmp_path)
    for key in keys:
        d = store.run(key)
        d.path.mkdir(parents=True)
        (d.path / "history.json").write_text("[]")
    return store


def test_find_runs_by_key_or_unique_prefix(tmp_path):
    store = _runs(tmp_path, ["aaaaaa11", "aaaaaa22", "bbbbbb33"])
    assert [d.key for d in find_runs(store, ["bbbbbb", "aaaaaa22"])] == ["bbbbbb33", "aaaaaa22"]
    for ref, message in (("aaaaaa", "matches 2 runs"), ("cccccc", "no such run"), ("../x", "hex"), ("abc", "hex")):
        with pytest.raises(UserError, match=message):
            find_runs(store, [ref])


def test_list_and_remove(tmp_path):
    store = _runs(tmp_path, ["aaaaaa11", "bbbbbb22"])
    infos = {i.key: i for i in list_runs(store)}
    size = sum(p.stat().st_size for p in store.run("aaaaaa11").path.iterdir())  # history.json, .lock
    assert infos["aaaaaa11"].status == "absent" and infos["aaaaaa11"].bytes == size >= 2
    assert not infos["aaaaaa11"].locked
    removal = remove_runs([store.run("aaaaaa11")])
    assert removal.removed == ["aaaaaa11"] and removal.freed_bytes == size and removal.skipped_locked == []
    assert [d.key for d in store.all_runs()] == ["bbbbbb22"]


def test_human_bytes():
    assert [human_bytes(n) for n in (0, 999, 1000, 148_000_000, 3 * 10**12)] == ["0 B", "999 B", "1.0 kB", "148.0 MB", "3000.0 GB"]


@pytest.mark.parametrize("text", ["99999999999d", "9" * 400 + "s"])
def test_parse_age_too_long_is_a_user_error(text):
    with pytest.raises(UserError, match="--older-than"):
        parse_age(text)


def test_clearing_a_run_that_cannot_be_deleted_names_it(tmp_path, monkeypatch):
    """``--force`` and a corrupted file clear a run; a file the user may not delete is one
    RunError (exit 1) naming the run and the file, never a PermissionError traceback."""
    import pathlib

    from modbench.errors import RunError

    store = _runs(tmp_path, ["aaaaaa11"])
    run_dir = store.run("aaaaaa11")
    real = pathlib.Path.unlink

    def unlink(self, *args, **kwargs):
        if self.name == "history.json":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "unlink", unlink)
    with pytest.raises(RunError, match="aaaaaa11") as info:
        run_dir.clear()
    assert "history.json" in str(info.value) and info.value.exit_code == 1
