"""``modbench cache list|rm|du`` and ``modbench export``."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from modbench.cache.store import RunStore
from modbench.suite.selection import select_runs


def _folder_bytes(path) -> int:  # independent of modbench.cache.manage
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


@pytest.fixture
def cache(tiny_suite, cache_dir, write_suite):
    """tiny (3 runs: done, failed, partial) and other (1 run, done, finished in 2020)."""
    store = RunStore(cache_dir)
    tiny = select_runs(str(tiny_suite)).runs
    other_file = write_suite(
        "name: other\ndataset: {name: digits, subset: 5}\nbackbone: {name: small-cnn, embedding_dim: 8}\n"
        "train: {epochs: 1, batch_size: 8, lr: 0.001}\nlosses: [{name: focal}]\n", "other.yaml"
    )
    other = select_runs(str(other_file)).runs
    for run in tiny + other:
        d = store.run(run.key)
        d.write_config(run.config)
        d.save_checkpoint({"epoch": 1})
    done, failed, partial = tiny
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    store.run(done.key).write_result({"key": done.key, "metrics": {"nmi": 0.5}, "date": now})
    store.run(failed.key).write_failed({"epoch": 1, "step": 2, "reason": "non-finite loss"})
    store.run(other[0].key).write_result({"key": other[0].key, "metrics": {"nmi": 0.4}, "date": "2020-01-01T00:00:00+00:00"})
    return store, {"done": done, "failed": failed, "partial": partial, "other": other[0]}, tiny_suite, other_file


def _listed(cli, *args):
    result = cli("cache", "list", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return {r["run"]: r for r in json.loads(result.stdout)}


def test_list_shows_suite_loss_seed_status_size_date(cli, cache):
    store, runs, tiny_file, other_file = cache
    listed = _listed(cli, "--suite", str(tiny_file), "--suite", str(other_file))
    assert set(listed) == {r.key for r in runs.values()}
    assert {k: listed[r.key]["status"] for k, r in runs.items()} == {"done": "done", "failed": "failed", "partial": "partial", "other": "done"}
    assert listed[runs["done"].key]["suite"] == "tiny" and listed[runs["done"].key]["label"] == "CE"
    assert listed[runs["other"].key]["suite"] == "other" and listed[runs["other"].key]["loss"] == "focal"
    assert listed[runs["other"].key]["date"].startswith("2020-01-01")
    for r in runs.values():
        assert listed[r.key]["bytes"] == _folder_bytes(store.run(r.key).path) > 0
    only_other = _listed(cli, "--suite", str(other_file))
    assert set(only_other) == {runs["other"].key}
    table = cli("cache", "list", "--suite", str(tiny_file))
    assert table.exit_code == 0 and runs["failed"].key in table.stdout and "failed" in table.stdout


def test_list_matches_a_suites_runs_by_the_reports_rule(cli, cache):
    """A run trained with --threads, --epochs or by other code is still its suite's run (the
    rule ``report`` uses, suite.keys.ACROSS_OVERRIDES), with its difference named."""
    store, runs, tiny_file, _ = cache
    base = runs["done"]
    variants = {
        "threads": base.with_config(train={**base.config["train"], "cpu_threads": 3}),
        "epochs": base.with_config(train={**base.config["train"], "epochs": 7}),
        "code": base.with_config(code={**base.config["code"], "digest": "0" * 20}),
    }
    for run in variants.values():
        store.run(run.key).write_config(run.config)
        store.run(run.key).write_result({"key": run.key, "metrics": {"nmi": 0.5}})
    listed = _listed(cli, "--suite", str(tiny_file))
    assert {k: listed[r.key]["suite"] for k, r in variants.items()} == {
        "threads": "tiny (--threads 3)", "epochs": "tiny (--epochs 7)", "code": "tiny (other code)"}
    assert listed[base.key]["suite"] == "tiny" and all(listed[r.key]["label"] == "CE" for r in variants.values())


def test_list_without_suite_lists_every_run(cli, cache):
    store, runs, *_ = cache
    listed = _listed(cli)
    assert set(listed) == {r.key for r in runs.values()}
    assert listed[runs["done"].key]["suite"] is None  # not a built-in suite's run


def test_du_adds_up(cli, cache):
    store, runs, *_ = cache
    result = cli("cache", "du", "--json")
    assert result.exit_code == 0
    record = json.loads(result.stdout)
    assert record["runs"] == 4
    assert record["bytes"] == sum(_folder_bytes(store.run(r.key).path) for r in runs.values())
    assert record["by_status"]["done"]["runs"] == 2


def test_rm_named_run_by_prefix(cli, cache):
    store, runs, *_ = cache
    key = runs["done"].key
    result = cli("cache", "rm", key[:8])
    assert result.exit_code == 0, result.stderr
    assert not store.run(key).path.exists()
    assert all(store.run(r.key).path.exists() for n, r in runs.items() if n != "done")
    assert cli("cache", "rm", "abcdef0123").exit_code == 2  # unknown run: one line, exit 2


def test_rm_failed_and_older_than_and_suite(cli, cache):
    store, runs, tiny_file, other_file = cache
    assert cli("cache", "rm", "--failed").exit_code == 0
    assert {d.key for d in store.all_runs()} == {runs[n].key for n in ("done", "partial", "other")}
    dry = cli("cache", "rm", "--older-than", "30d", "--dry-run")
    assert dry.exit_code == 0 and dry.stdout.split() == [runs["other"].key]
    assert store.run(runs["other"].key).path.exists()
    assert cli("cache", "rm", "--older-than", "30d").exit_code == 0
    assert not store.run(runs["other"].key).path.exists()
    assert store.run(runs["done"].key).path.exists()  # finished just now
    assert cli("cache", "rm", "--suite", str(tiny_file)).exit_code == 0
    assert store.all_runs() == []


@pytest.mark.parametrize("args", [[], ["--older-than", "thirty"], ["abc", "--failed"]])
def test_rm_refuses_unclear_requests(cli, cache, args):
    result = cli("cache", "rm", *args)
    assert result.exit_code == 2 and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1


def test_rm_never_touches_a_locked_run(cli, cache):
    store, runs, *_ = cache
    run_dir = store.run(runs["partial"].key)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl,sys,time; f=open(sys.argv[1],'a'); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)", str(run_dir.lock_file)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        before = sorted(p.name for p in run_dir.path.iterdir())
        listed = _listed(cli)
        assert listed[run_dir.key]["in_use"] is True
        result = cli("cache", "rm", run_dir.key, runs["failed"].key)
        assert result.exit_code == 1 and "in use" in result.stderr
        assert sorted(p.name for p in run_dir.path.iterdir()) == before  # untouched
        assert not store.run(runs["failed"].key).path.exists()  # the other one went
    finally:
        holder.kill()
        holder.wait()


def test_export_embeddings_reproduce_the_stored_metrics(cli, tiny_suite, cache_dir, tmp_path):
    """The exported embeddings measured by `eval --embeddings` give the run's stored numbers."""
    trained = cli("compare", "--suite", tiny_suite, "--loss", "CE", "--json")
    assert trained.exit_code == 0, trained.stderr
    record = json.loads(trained.stdout)[0]
    out = tmp_path / "ce.npz"
    result = cli("export", record["run"][:10], "--embeddings", out)
    assert result.exit_code == 0, result.stderr
    with np.load(out) as npz:
        assert str(npz["run"]) == record["run"]
        assert npz["embeddings"].dtype == np.float32 and npz["embeddings"].shape[0] == npz["labels"].shape[0]
    measured = cli("eval", "--embeddings", out, "--json")
    assert measured.exit_code == 0, measured.stderr
    values = json.loads(measured.stdout)
    for metric in ("nmi", "f1", "recall@1", "recall@8"):
        assert values[metric] == pytest.approx(record[metric], abs=1e-6)


def test_export_refuses_unfinished_runs_and_bad_files(cli, cache, tmp_path):
    store, runs, *_ = cache
    result = cli("export", runs["partial"].key, "--embeddings", tmp_path / "x.npz")
    assert result.exit_code == 2 and "not finished" in result.stderr
    result = cli("export", runs["done"].key, "--embeddings", tmp_path / "x.txt")
    assert result.exit_code == 2 and ".npz" in result.stderr


@pytest.mark.parametrize("age", ["99999999999d", "9" * 400 + "w"])
def test_rm_with_an_age_too_long_is_one_line_exit_2(cli, cache, age):
    result = cli("cache", "rm", "--older-than", age)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("error: --older-than") and result.stderr.count("\n") == 1


def _refuse_deleting(monkeypatch, folder):
    """Deleting anything inside ``folder`` fails as it does for a file the user may not delete
    (chmod cannot show this when the tests run as root)."""
    import pathlib
    import shutil

    real_unlink, real_rmtree = pathlib.Path.unlink, shutil.rmtree

    def unlink(self, *args, **kwargs):
        if str(self).startswith(str(folder)) and not self.name.startswith("."):
            raise PermissionError(13, "Permission denied", str(self))
        return real_unlink(self, *args, **kwargs)

    def rmtree(path, *args, **kwargs):
        if str(path).startswith(str(folder)):
            raise PermissionError(13, "Permission denied", str(path))
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "unlink", unlink)
    monkeypatch.setattr(shutil, "rmtree", rmtree)


def test_rm_of_a_run_that_cannot_be_deleted_names_it_exit_1(cli, cache, monkeypatch):
    store, runs, *_ = cache
    stuck = store.run(runs["done"].key)
    _refuse_deleting(monkeypatch, stuck.path)
    result = cli("cache", "rm", runs["done"].key, runs["failed"].key)
    assert result.exit_code == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if runs["done"].key in line]
    assert len(errors) == 1 and "Permission denied" in errors[0]
    assert "Traceback" not in result.stderr
    assert stuck.path.exists() and not store.run(runs["failed"].key).path.exists()
