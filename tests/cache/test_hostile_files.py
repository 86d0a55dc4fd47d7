"""Hostile files: checkpoints are loaded with weights_only=True and refused (one line, run
trained again) when they would run code; suites are read with a safe YAML loader; run
directories are named by hashes, so no suite name or label can write outside the cache."""

from __future__ import annotations

import copy
import json
import os
import pickle

import pytest
import torch

from modbench.cache.checksum import file_sha256, record_sha256
from modbench.cache.store import CorruptFile, RunStore
from modbench.suite.loader import load_suite
from modbench.suite.runs import resolve_runs

from helpers import TINY_SUITE


class Payload:
    """Unpickling this calls open(marker, "w"): the file appears only if the code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def hostile_checkpoint(path, marker):
    torch.save({"model": Payload(marker), "loss": {}, "optimizer": {}, "epoch": 1, "history": []}, path)


def one_suite(write_suite, **changes):
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = data["losses"][:1]
    data["train"]["epochs"] = 1
    data.update(changes)
    return write_suite(data, "one.yaml")


def test_payload_is_live_when_loaded_unsafely(tmp_path):
    """The control: the same file loaded without weights_only does run its code."""
    marker = tmp_path / "pwned"
    hostile_checkpoint(tmp_path / "checkpoint.pt", marker)
    torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert marker.exists()


def test_code_in_a_checkpoint_is_refused_and_the_run_retrained(cli, write_suite, cache_dir, tmp_path):
    suite = one_suite(write_suite)
    (run,) = resolve_runs(*load_suite(str(suite)))
    run_dir = RunStore(cache_dir).run(run.key)
    run_dir.path.mkdir(parents=True)
    marker = tmp_path / "pwned"
    hostile_checkpoint(run_dir.checkpoint_file, marker)
    with pytest.raises(CorruptFile, match="was refused"):
        run_dir.load_checkpoint()

    result = cli("train", "--suite", suite, "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("warning:")]
    assert "checkpoint.pt was refused: it is not a plain weights file" in line
    assert "training it again from the start" in line
    assert not marker.exists()
    assert run_dir.load_checkpoint()["epoch"] == 1 and run_dir.result(deep=True) is not None


def test_forged_checksums_do_not_get_a_hostile_checkpoint_loaded(cli, write_suite, cache_dir, tmp_path):
    """A finished run whose checkpoint was swapped and whose result.json was re-signed: the
    re-measurement (`eval --metrics`) still loads it with weights_only and refuses it."""
    suite = one_suite(write_suite)
    assert cli("train", "--suite", suite, "--device", "cpu").exit_code == 0
    (run_dir,) = RunStore(cache_dir).all_runs()
    marker = tmp_path / "pwned"
    hostile_checkpoint(run_dir.checkpoint_file, marker)
    record = json.loads(run_dir.result_file.read_text())
    record.pop("record_sha256")
    record["files"]["checkpoint.pt"] = {"sha256": file_sha256(run_dir.checkpoint_file),
                                        "bytes": run_dir.checkpoint_file.stat().st_size}
    record["record_sha256"] = record_sha256(record)
    run_dir.result_file.write_text(json.dumps(record))

    result = cli("eval", "--suite", suite, "--device", "cpu", "--metrics", "recall@3", "--json")
    assert result.exit_code == 1
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("warning:")]
    assert "checkpoint.pt was refused" in line
    assert json.loads(result.stdout)[0]["status"] == "missing"
    assert not marker.exists()


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:builtins.open ['{marker}', 'w']",
        "!!python/object/new:builtins.open ['{marker}', 'w']",
        "!!python/name:builtins.open",
        "!!python/module:os",
    ],
)
def test_python_yaml_tags_are_refused(cli, write_suite, tmp_path, tag):
    marker = tmp_path / "pwned"
    path = write_suite(f"name: {tag.format(marker=marker)}\n")
    result = cli("train", "--suite", path)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "unsafe or unknown YAML tag refused" in result.stderr
    assert not marker.exists()


# Names with control characters (a NUL byte, escape codes) are refused at load since the suite
# work (tests/reliability/test_bad_input.py); these are the printable ones that look like paths.
HOSTILE = ["../../../escape", "/tmp/absolute", "..", "a/../../b", "C:\\windows\\x", "~root", "$HOME"]


def test_names_and_labels_cannot_write_outside_the_cache(cli, write_suite, tmp_path):
    data = copy.deepcopy(TINY_SUITE)
    data["name"] = "../../../escape/" + "x" * 50
    data["train"]["epochs"] = 1
    data["losses"] = [
        {"name": "cross-entropy", "label": label, "params": {"label_smoothing": i / 20}}
        for i, label in enumerate(HOSTILE)
    ]
    suite = write_suite(data, "hostile.yaml")
    cache = tmp_path / "deep" / "er" / "cache"
    before = {p for p in tmp_path.rglob("*")}
    absolute_existed = os.path.exists("/tmp/absolute")
    result = cli("compare", "--suite", suite, "--cache-dir", cache, "--device", "cpu", "--json")
    assert result.exit_code == 0, result.stderr
    assert [r["label"] for r in json.loads(result.stdout)] == HOSTILE
    created = {p for p in tmp_path.rglob("*")} - before
    assert created and all(p == cache or cache in p.parents or p in cache.parents for p in created)
    runs = RunStore(cache).all_runs()
    assert len(runs) == len(HOSTILE)
    assert all(len(r.key) == 20 and int(r.key, 16) >= 0 for r in runs)  # hex hashes only
    assert os.path.exists("/tmp/absolute") == absolute_existed
    with pytest.raises(ValueError):
        RunStore(cache).run("../../escape")


def test_json_files_are_parsed_as_data_only(tmp_path):
    """JSON cannot carry code; a pickled result.json is just an unreadable file."""
    store = RunStore(tmp_path)
    run_dir = store.run("0123456789abcdef0123")
    run_dir.path.mkdir(parents=True)
    run_dir.result_file.write_bytes(pickle.dumps(Payload(tmp_path / "pwned")))
    with pytest.raises(CorruptFile, match="not valid JSON"):
        run_dir.result()
    assert not (tmp_path / "pwned").exists()
