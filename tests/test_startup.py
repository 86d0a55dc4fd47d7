"""Fast paths stay fast: ``--help``, ``list`` and ``report`` never import torch or matplotlib (~1-2 s).

Each command runs in a fresh interpreter (the CLI's own ``main()``), which then reports whether
torch was imported. Timings themselves are measured by benchmarks/cli_speed.py, never here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """\
import atexit, sys
atexit.register(lambda: sys.stderr.write("\\nHEAVY=%s\\n" % ",".join(
    m for m in ("torch", "torchvision", "sklearn", "pytorch_metric_learning", "matplotlib", "tensorboard") if m in sys.modules)))
sys.argv = ["modbench", *sys.argv[1:]]
from modbench.cli.app import main
main()
"""
ROOT = Path(__file__).resolve().parent.parent


def heavy_imports(*args: str, env: dict | None = None) -> tuple[int, str, list[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=120)
    marker = [line for line in proc.stderr.splitlines() if line.startswith("HEAVY=")]
    assert marker, proc.stderr[-2000:]
    heavy = [m for m in marker[-1][len("HEAVY="):].split(",") if m]
    return proc.returncode, proc.stdout, heavy


@pytest.mark.parametrize("args", [["--help"], ["list"], ["list", "losses"], ["train", "--help"], ["report", "--help"], ["cache", "--help"], ["cache", "du"], ["export", "--help"]])
def test_fast_commands_do_not_import_torch(args):
    code, out, heavy = heavy_imports(*args)
    assert code == 0
    assert out.strip()  # it did print its help / its lists
    assert heavy == []


def test_report_over_cached_runs_does_not_import_torch(tmp_path):
    from modbench.cache.store import RunStore
    from modbench.suite.loader import load_suite
    from modbench.suite.runs import resolve_runs

    suite_file = tmp_path / "s.yaml"
    suite_file.write_text(
        "name: s\ndataset: {name: digits}\nbackbone: {name: small-cnn}\n"
        "train: {epochs: 1, batch_size: 8, lr: 0.001}\nseeds: [0, 1]\n"
        "losses:\n  - {name: improved, params: {beta: [2, 4]}}\n  - {name: cross-entropy}\n"
        "  - {name: triplet, params: {miner: [hard, all]}}\n"
    )
    suite, source = load_suite(str(suite_file))
    runs = resolve_runs(suite, source)
    store = RunStore(tmp_path / "cache")
    for i, run in enumerate(runs):
        run_dir = store.run(run.key)
        run_dir.save_checkpoint({"epoch": 1})  # a result must point at a checksummed checkpoint
        run_dir.write_result({"key": run.key, "config": run.config, "metrics": {"nmi": 0.5 + i / 100}})
    code, out, heavy = heavy_imports("report", "--suite", str(suite_file), "--json", env={"MODBENCH_CACHE": str(tmp_path / "cache")})
    assert code == 0
    records = json.loads(out)
    done = {r["run"] for r in records if r.get("status") == "done" and r.get("run")}  # not aggregates
    assert done == {run.key for run in runs} and len(runs) == 10  # every run found under its key
    assert heavy == []


def test_loss_parameter_models_are_torch_free():
    code = ("import sys; from modbench.losses.params import PARAMS; from modbench.losses import LOSSES; "
            "missing = sorted(set(LOSSES.names()) - set(PARAMS)); "
            "assert not missing, f'losses without a model in modbench/losses/params.py: {missing}'; "
            "assert 'torch' not in sys.modules")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_spec_params_are_the_torch_free_models():
    from modbench.losses import LOSSES, resolve_loss
    from modbench.losses.params import PARAMS

    for name in LOSSES.names():
        assert resolve_loss(name).params is PARAMS[name]


def _fake_cache(tmp_path, seeds=(0, 1)):
    """A suite file and a cache holding a valid finished result for each of its runs."""
    from helpers import write_finished

    from modbench.cache.store import RunStore
    from modbench.suite.loader import load_suite
    from modbench.suite.runs import resolve_runs

    suite_file = tmp_path / "s.yaml"
    suite_file.write_text(
        "name: s\ndataset: {name: digits}\nbackbone: {name: small-cnn}\n"
        f"train: {{epochs: 1, batch_size: 8, lr: 0.001}}\nseeds: {list(seeds)}\n"
        "losses:\n  - {name: improved, params: {beta: [2, 4]}}\n  - {name: cross-entropy}\n"
    )
    suite, source = load_suite(str(suite_file))
    runs = resolve_runs(suite, source)
    store = RunStore(tmp_path / "cache")
    eval_cfg = suite.eval.model_dump(mode="json")
    for i, run in enumerate(runs):
        write_finished(store, run, eval_cfg, {m: 0.5 + i / 100 for m in eval_cfg["metrics"]})
    return suite_file, store, runs


@pytest.mark.parametrize("command", ["compare", "train", "eval"])
def test_fully_cached_commands_do_not_import_torch(tmp_path, command):
    """A cached answer is planned from the cache; the engine is not imported."""
    suite_file, store, runs = _fake_cache(tmp_path)
    args = [command, "--suite", str(suite_file), "--device", "cpu"] + (["--json"] if command != "train" else [])
    # The numerics of the stored results (CPU, one thread) are known without torch.
    code, out, heavy = heavy_imports(*args, env={"MODBENCH_CACHE": str(store.root), "OMP_NUM_THREADS": "1"})
    assert code == 0
    assert heavy == []
    if command != "train":
        done = {r["run"] for r in json.loads(out) if r.get("status") == "done" and r.get("run")}
        assert done == {run.key for run in runs} and len(runs) == 6


def test_loading_per_query_records_is_torch_free(tmp_path):
    """``RunStore.load_queries``: what the statistics read, without torch."""
    _, store, runs = _fake_cache(tmp_path)
    keys = [run.key for run in runs]
    code = ("import sys; from modbench.cache.store import RunStore; "
            f"records = RunStore({str(store.root)!r}).load_queries({keys!r}); "
            "assert len(records) == 6 and all(r['hit'].dtype == bool for r in records); "
            "assert 'torch' not in sys.modules and 'sklearn' not in sys.modules")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]



@pytest.mark.parametrize("dataset", ["digits", "fashion-mnist"])
def test_small_cnn_run_does_not_import_torchvision(tmp_path, dataset):
    """A small-cnn run on digits or on Fashion-MNIST files already on disk trains without
    torchvision (its import costs about 1.3 s of CPU per process and per --jobs worker)."""
    import fixture_data as fixtures

    data_dir = ""
    if dataset == "fashion-mnist":
        fixtures.write_fashion_mnist(tmp_path / "data", per_class=3, test_per_class=2)
        data_dir = str(tmp_path / "data")
    suite = tmp_path / "s.yaml"
    suite.write_text(
        f"name: s\ndataset: {{name: {dataset}, subset: 60}}\nbackbone: {{name: small-cnn}}\n"
        "train: {epochs: 1, batch_size: 16, lr: 0.001}\nseeds: [0]\n"
        "eval: {metrics: [nmi]}\nlosses:\n  - {name: cross-entropy}\n"
    )
    env = {"MODBENCH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    args = ["train", "--suite", str(suite), "--device", "cpu"]
    if data_dir:
        args += ["--data-dir", data_dir]
    code, out, heavy = heavy_imports(*args, env=env)
    assert code == 0, out[-2000:]
    assert "torch" in heavy  # it did train
    assert "torchvision" not in heavy


def test_help_loads_only_the_command_line():
    """`modbench --help` and shell completion import the command modules and Typer and Rich; the
    work of every command (the application layer, the suite loader, the results with numpy and
    scipy) is imported when the command runs."""
    code = ("import sys, modbench.cli.app\n"
            "mods = sorted(m for m in sys.modules if m.startswith('modbench') and not m.startswith('modbench.cli'))\n"
            "libs = [m for m in ('numpy', 'scipy', 'yaml', 'pydantic', 'torch') if m in sys.modules]\n"
            "print(mods, libs)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    mods, libs = proc.stdout.strip().rsplit("] [", 1)
    assert set(eval(mods + "]")) <= {"modbench", "modbench.canonical", "modbench.errors"}, mods
    assert eval("[" + libs) == [], libs
