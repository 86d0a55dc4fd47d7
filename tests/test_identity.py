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
    for path in (a, b):  # plugin files hash under plugin/<name>, each by the sha256 of its bytes
        name, sha = f"plugin/{path.name}".encode(), hashlib.sha256(path.read_bytes()).hexdigest().encode()
        expected.update(b"%d:%s%s\n" % (len(name), name, sha))
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


def test_changed_loss_code_changes_the_run_key(tmp_path, monkeypatch, write_suite):
    """In one process too: no digest of an earlier call is served after the file changed."""
    suite = write_suite(TINY_SUITE, "tiny.yaml")
    fake = tmp_path / "improved.py"
    fake.write_text("version 1\n")
    monkeypatch.setattr(identity, "loss_source_files", lambda name, spec=None, references=None: [fake])
    before = {r.label: r.key for r in resolve_runs(*load_suite(str(suite)))}
    fake.write_text("version 2\n")
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


def test_another_thread_count_is_another_run_trained_beside_the_first(cli, one_loss, cache_dir, keep_threads):
    """--threads is part of the run's key: a command with another count trains its own run
    (never a table of dashes and exit 1), and every cached result stays listed with its numerics."""
    args = ("--suite", one_loss, "--cache-dir", cache_dir, "--device", "cpu", "--json")
    first = cli("compare", *args, "--threads", "1")
    assert first.exit_code == 0, first.stderr
    (run_dir,) = RunStore(cache_dir).all_runs()
    assert run_dir.result()["numerics"] == {"device": "cpu", "precision": "float32", "cpu_threads": 1}
    raw = run_dir.result_file.read_bytes()

    other = cli("compare", *args, "--threads", "2")
    assert other.exit_code == 0, other.stderr
    assert "1 trained" in other.stderr
    (row,) = json.loads(other.stdout)[:1]
    assert row["status"] == "done" and row["identity"]["cpu_threads"] == 2
    assert run_dir.result_file.read_bytes() == raw  # kept for the command that made it
    assert len(RunStore(cache_dir).all_runs()) == 2
    evaluated = cli("eval", *args, "--threads", "2")
    assert evaluated.exit_code == 0, evaluated.stderr

    same = cli("compare", *args, "--threads", "1")
    assert same.exit_code == 0 and "1 from the cache" in same.stderr
    listed = cli("report", "--suite", one_loss, "--cache-dir", cache_dir, "--json")
    assert listed.exit_code == 0, listed.stderr
    threads = sorted(r["identity"]["cpu_threads"] for r in json.loads(listed.stdout) if r.get("seed") is not None)
    assert threads == [1, 2]  # both results, each with its own numerics


def test_a_partial_checkpoint_is_resumed_only_by_its_own_thread_count(cli, one_loss, cache_dir, keep_threads):
    args = ("--suite", one_loss, "--cache-dir", cache_dir, "--device", "cpu")
    assert cli("train", *args, "--threads", "1").exit_code == 0
    (run_dir,) = RunStore(cache_dir).all_runs()
    run_dir.result_file.unlink()  # as if killed before its evaluation
    raw = run_dir.checkpoint_file.read_bytes()
    other = cli("train", *args, "--threads", "2")
    assert other.exit_code == 0, other.stderr  # its own run, trained from scratch
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


# -- the plugin's own modules, as imported ------------------------------------------------------

PLUGIN = '''
import numpy
import torch
from helper_for_loss import SCALE


class ScaledCE(torch.nn.Module):
    def __init__(self, num_classes, embedding_dim):
        super().__init__()

    def forward(self, embeddings, labels):
        return SCALE * embeddings.pow(2).mean()
'''


def _plugin_suite(write_suite, folder):
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = [{"name": f"{folder / 'scaled.py'}:ScaledCE", "label": "scaled"}]
    data["train"]["epochs"] = 1
    return write_suite(data, "plugin.yaml")


@pytest.fixture
def plugin_folder(tmp_path, monkeypatch):
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "scaled.py").write_text(PLUGIN)
    (folder / "helper_for_loss.py").write_text("SCALE = 1.0\n")
    monkeypatch.syspath_prepend(str(folder))  # how the plugin finds its helper
    yield folder
    sys.modules.pop("helper_for_loss", None)


def test_a_plugins_own_helper_module_is_part_of_its_identity(plugin_folder, write_suite):
    suite = _plugin_suite(write_suite, plugin_folder)
    files = {p.name for p in identity.loss_source_files(f"{plugin_folder / 'scaled.py'}:ScaledCE")}
    assert {"scaled.py", "helper_for_loss.py"} <= files
    assert not any("numpy" in f or "torch" in f for f in files)  # not the plugin's code
    before = resolve_runs(*load_suite(str(suite)))[0].key
    (plugin_folder / "helper_for_loss.py").write_text("SCALE = 2.0\n")
    assert resolve_runs(*load_suite(str(suite)))[0].key != before


def test_own_module_files_follow_a_package_and_its_relative_imports(tmp_path):
    pkg = tmp_path / "mypkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "losses.py").write_text("from . import util\nfrom mypkg.sub.deep import X\nimport os\n")
    (pkg / "util.py").write_text("Y = 1\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "deep.py").write_text("from ..util import Y\nX = Y\n")
    (pkg / "unused.py").write_text("Z = 0\n")
    found = {p.relative_to(tmp_path).as_posix() for p in identity.own_module_files(pkg / "losses.py", tmp_path)}
    assert found == {"mypkg/losses.py", "mypkg/util.py", "mypkg/__init__.py", "mypkg/sub/__init__.py",
                     "mypkg/sub/deep.py"}


def test_a_plugin_edited_after_planning_is_refused_not_stored_under_the_old_key(plugin_folder, write_suite):
    """The digest is of the bytes imported; the engine re-imports an edited file and then finds
    that its code is not the code the run's key names."""
    from modbench import plugins
    from modbench.engine import guard
    from modbench.errors import UserError

    suite = _plugin_suite(write_suite, plugin_folder)
    (run,) = resolve_runs(*load_suite(str(suite)))
    guard.check_code(run)  # unchanged: the run may train
    (plugin_folder / "scaled.py").write_text(PLUGIN.replace("SCALE *", "0.5 * SCALE *"))
    plugins.load_reference(run.loss, run.references)  # what building the loss does: the new bytes are imported
    with pytest.raises(UserError, match="changed since the runs were planned"):
        guard.check_code(run)
    (plugin_folder / "scaled.py").write_text(PLUGIN)  # restored: the old code and key again
    plugins.load_reference(run.loss, run.references)
    guard.check_code(run)


def test_package_versions_are_part_of_the_run_key(write_suite, monkeypatch):
    from modbench import versions

    suite = write_suite(TINY_SUITE, "tiny.yaml")
    run = resolve_runs(*load_suite(str(suite)))[0]
    assert {"torch", "numpy", "scikit-learn", "pytorch-metric-learning"} <= set(run.config["code"]["packages"])
    assert "timm" not in run.config["code"]["packages"]  # only for a timm backbone
    real = versions._package_versions()
    monkeypatch.setattr(versions, "_package_versions", lambda: {**real, "torch": "0.0.1"})
    other = resolve_runs(*load_suite(str(suite)))[0]
    assert other.key != run.key
    monkeypatch.setattr(versions, "_package_versions", lambda: {**real, "timm": "9.9"})
    assert resolve_runs(*load_suite(str(suite)))[0].key == run.key  # timm unused here


# -- the thread count: the run's, never the shell's ---------------------------------------------

def test_readme_command_has_the_same_keys_in_any_shell(monkeypatch):
    """`modbench compare --suite digits` (README): the same run keys with and without
    OMP_NUM_THREADS, whatever the machine's cores."""
    from modbench.suite.selection import select_runs

    keys = []
    for env in (None, "1", "3", "64"):
        if env is None:
            monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
            monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
        else:
            monkeypatch.setenv("OMP_NUM_THREADS", env)
        runs = select_runs("digits").runs
        keys.append([r.key for r in runs])
        assert all(r.config["train"]["cpu_threads"] == 1 for r in runs)
    assert all(k == keys[0] for k in keys)
    assert [r.key for r in select_runs("digits", threads=2).runs] != keys[0]  # --threads: another run


def test_a_result_trained_in_one_shell_is_reused_in_another(cli, one_loss, cache_dir, monkeypatch, keep_threads):
    args = ("compare", "--suite", one_loss, "--cache-dir", cache_dir, "--device", "cpu", "--json")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    first = cli(*args)
    assert first.exit_code == 0, first.stderr
    monkeypatch.delenv("OMP_NUM_THREADS")
    again = cli(*args)
    assert again.exit_code == 0, again.stderr
    assert "1 from the cache" in again.stderr
    assert json.loads(again.stdout)[0]["identity"]["cpu_threads"] == 1
