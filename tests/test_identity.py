"""Run identity (modbench/identity.py): the code digest is part of every run's key, so results
computed by other code are never reused; device, precision and CPU threads are recorded and
gate reuse: a result or checkpoint of other numerics is refused with a message naming both."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from modbench import identity
from modbench.cache.store import RunStore
from modbench.suite.loader import load_suite
from modbench.suite.runs import resolve_runs

from helpers import TINY_SUITE

REPO = Path(__file__).resolve().parents[1]


def test_code_digest_is_a_sha256_of_names_and_bytes_in_a_fixed_order(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = 1\n")
    b.write_text("y = 2\n")
    first = identity.code_digest([a, b])
    assert first == identity.code_digest([b, a, a])  # order and repeats do not matter
    expected = hashlib.sha256()
    for path in (a, b):  # plugin files hash under plugin/<name>
        name, data = f"plugin/{path.name}".encode(), path.read_bytes()
        expected.update(b"%d:%s%d:" % (len(name), name, len(data)) + data)
    assert first == expected.hexdigest()
    b.write_text("y = 3\n")
    assert identity.code_digest([a, b]) != first
    assert identity.code_digest([a, tmp_path / "gone.py"]) != identity.code_digest([a])


def test_a_runs_code_covers_its_loss_backbone_engine_and_plugin_files(tmp_path):
    files = {p.relative_to(identity.PACKAGE).as_posix() for p in identity.loss_source_files("improved")}
    assert "losses/improved.py" in files and "losses/focal.py" not in files
    assert "losses/pml.py" in {p.name and p.relative_to(identity.PACKAGE).as_posix() for p in identity.loss_source_files("pml:ContrastiveLoss")}
    backbone = {p.relative_to(identity.PACKAGE).as_posix() for p in identity.backbone_source_files("small-cnn")}
    assert "backbones/small_cnn.py" in backbone
    engine = {p.name for p in identity.engine_source_files()}
    assert {"train.py", "loop.py", "runner.py"} <= engine
    plugin = tmp_path / "my_loss.py"
    plugin.write_text("class MyLoss: ...\n")
    assert plugin in identity.loss_source_files(f"{plugin}:MyLoss")
    spec = type("Spec", (), {"source_files": (plugin,)})()  # LossSpec.source_files of a plugin
    assert plugin in identity.loss_source_files("improved", spec)


@pytest.fixture
def fresh_digests():
    """The digests are cached per process: computed again in this test, and forgotten after it
    (so that no later test sees the fake files' digest)."""
    identity._code_identity.cache_clear()
    yield
    identity._code_identity.cache_clear()


def test_changed_loss_code_changes_the_run_key(tmp_path, monkeypatch, write_suite, fresh_digests):
    suite = write_suite(TINY_SUITE, "tiny.yaml")
    fake = tmp_path / "improved.py"
    fake.write_text("version 1\n")
    monkeypatch.setattr(identity, "loss_source_files", lambda name, spec=None, base_dir=None: [fake])
    before = {r.label: r.key for r in resolve_runs(*load_suite(str(suite)))}
    fake.write_text("version 2\n")
    identity._code_identity.cache_clear()
    after = {r.label: r.key for r in resolve_runs(*load_suite(str(suite)))}
    assert all(before[label] != after[label] for label in before)
    run = resolve_runs(*load_suite(str(suite)))[0]
    assert run.config["code"]["modbench"] and len(run.config["code"]["digest"]) == 20


def test_identity_is_torch_free():
    probe = ("import sys; from modbench.identity import code_identity; code_identity('improved', 'small-cnn'); "
             "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


@pytest.fixture
def one_loss(write_suite):
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = data["losses"][:1]
    data["train"]["epochs"] = 1
    return write_suite(data, "one.yaml")


@pytest.fixture
def keep_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_a_result_of_other_numerics_is_refused_with_both_named(cli, one_loss, cache_dir, keep_threads):
    args = ("--suite", one_loss, "--cache-dir", cache_dir, "--device", "cpu", "--json")
    first = cli("compare", *args, "--threads", "1")
    assert first.exit_code == 0, first.stderr
    (run_dir,) = RunStore(cache_dir).all_runs()
    result = run_dir.result()
    assert result["numerics"] == {"device": "cpu", "precision": "float32", "cpu_threads": 1}
    raw = run_dir.result_file.read_bytes()

    other = cli("compare", *args, "--threads", "2")
    assert other.exit_code != 0
    assert "computed with cpu float32, 1 CPU thread(s); this command uses cpu float32, 2 CPU thread(s)" in other.stderr
    assert run_dir.result_file.read_bytes() == raw  # kept for the command that made it
    assert json.loads(other.stdout)[0]["status"] == "missing"
    evaluated = cli("eval", *args, "--threads", "2")
    assert evaluated.exit_code == 1 and "this command uses cpu float32, 2 CPU thread(s)" in evaluated.stderr

    same = cli("compare", *args, "--threads", "1")
    assert same.exit_code == 0 and "1 from the cache" in same.stderr


def test_a_partial_checkpoint_never_resumes_with_other_numerics(cli, one_loss, cache_dir, keep_threads):
    args = ("--suite", one_loss, "--cache-dir", cache_dir, "--device", "cpu")
    assert cli("train", *args, "--threads", "1").exit_code == 0
    (run_dir,) = RunStore(cache_dir).all_runs()
    run_dir.result_file.unlink()  # as if killed before its evaluation
    raw = run_dir.checkpoint_file.read_bytes()
    other = cli("train", *args, "--threads", "2")
    assert other.exit_code != 0
    assert "its checkpoint is not resumed" in other.stderr and "1 CPU thread(s)" in other.stderr
    assert run_dir.checkpoint_file.read_bytes() == raw and not run_dir.result_file.exists()
    resumed = cli("train", *args, "--threads", "1")
    assert resumed.exit_code == 0 and run_dir.result()["numerics"]["cpu_threads"] == 1


def test_a_suite_fixes_its_thread_count(cli, write_suite, cache_dir, keep_threads):
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = data["losses"][:1]
    data["train"].update(epochs=1, cpu_threads=1)
    suite = write_suite(data, "fixed.yaml")
    done = cli("train", "--suite", suite, "--cache-dir", cache_dir, "--device", "cpu")
    assert done.exit_code == 0, done.stderr
    (run_dir,) = RunStore(cache_dir).all_runs()
    assert run_dir.result()["cpu_threads"] == 1
    clash = cli("train", "--suite", suite, "--cache-dir", cache_dir, "--device", "cpu", "--threads", "2", "--force")
    assert clash.exit_code == 2 and "train.cpu_threads: 1" in clash.stderr


def test_numerics_mismatch_names_both_numerics():
    one = {"numerics": {"device": "cpu", "precision": "float32", "cpu_threads": 1}}
    assert identity.numerics_mismatch(one["numerics"], dict(one["numerics"])) is None
    assert "records no device" in identity.numerics_mismatch(None, one["numerics"])


def test_dataset_loader_code_is_part_of_every_runs_code_identity():
    """The loaders decide the pixels a run sees: an edited loader is other code."""
    from modbench.identity import PACKAGE, engine_source_files

    files = {p.resolve() for p in engine_source_files()}
    assert (PACKAGE / "datasets" / "fashion_mnist.py").resolve() in files
    assert (PACKAGE / "datasets" / "splits.py").resolve() in files
