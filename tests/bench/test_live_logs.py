"""--tensorboard / MODBENCH_TENSORBOARD and --wandb. The event files are read
back with TensorBoard's own EventAccumulator and compared with history.json."""

from __future__ import annotations

import json

import pytest

from modbench.cache.store import RunStore
from modbench.bench.live_logs import run_folder, scalars

EventAccumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator").EventAccumulator


def _curves(folder):
    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _expected(history):
    out = {}
    for record in history:
        for tag, value in scalars(record).items():
            out.setdefault(tag, []).append((record["epoch"], value))
    return out


def assert_same_curves(curves, expected):
    assert curves.keys() == expected.keys()
    for tag, points in expected.items():
        assert [s for s, _ in curves[tag]] == [s for s, _ in points]
        assert [v for _, v in curves[tag]] == pytest.approx([v for _, v in points], rel=1e-6)  # float32 in the file


def test_tensorboard_curves_equal_history(cli, tiny_suite, cache_dir, tmp_path):
    logs = tmp_path / "tb"
    result = cli("compare", "--suite", tiny_suite, "--loss", "CE", "--json", "--tensorboard", logs)
    assert result.exit_code == 0, result.stderr
    key = json.loads(result.stdout)[0]["run"]
    history = RunStore(cache_dir).run(key).read_history()
    assert [r["epoch"] for r in history] == [1, 2]
    folder = logs / "tiny" / "CE" / "seed-0"
    curves = _curves(folder)
    expected = _expected(history)
    assert {"train/loss", "val/recall@1"} <= set(expected)
    assert_same_curves(curves, expected)


def test_cached_runs_are_written_from_history_via_the_environment(cli, tiny_suite, cache_dir, tmp_path, monkeypatch):
    first = cli("compare", "--suite", tiny_suite, "--loss", "CE", "--json")
    assert first.exit_code == 0
    key = json.loads(first.stdout)[0]["run"]
    logs = tmp_path / "later"
    monkeypatch.setenv("MODBENCH_TENSORBOARD", str(logs))
    again = cli("compare", "--suite", tiny_suite, "--loss", "CE", "--json")
    assert again.exit_code == 0 and "trained" not in again.stderr
    curves = _curves(logs / "tiny" / "CE" / "seed-0")
    assert_same_curves(curves, _expected(RunStore(cache_dir).run(key).read_history()))
    assert [s for s, _ in curves["train/loss"]] == [1, 2]


def test_wandb_without_the_package_is_one_line_exit_2(cli, tiny_suite, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    result = cli("compare", "--suite", tiny_suite, "--wandb")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --wandb needs the wandb package") and result.stderr.count("\n") == 1


def test_wandb_logs_offline_through_the_package(cli, tiny_suite, monkeypatch):
    """A stand-in `wandb` module records what modbench asks of the real one's API."""
    import sys
    import types

    calls = []

    class FakeRun:
        def log(self, data, step):
            calls.append(("log", step, dict(data)))

        def finish(self):
            calls.append(("finish",))

    fake = types.ModuleType("wandb")
    fake.__spec__ = types.SimpleNamespace(name="wandb")
    fake.init = lambda **kw: calls.append(("init", kw)) or FakeRun()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: fake.__spec__ if name == "wandb" else real(name, *a))
    result = cli("compare", "--suite", tiny_suite, "--loss", "CE", "--wandb")
    assert result.exit_code == 0, result.stderr
    init = [c for c in calls if c[0] == "init"]
    assert len(init) == 1 and init[0][1]["mode"] == "offline" and init[0][1]["group"] == "tiny"
    logged = [c for c in calls if c[0] == "log"]
    assert [c[1] for c in logged] == [1, 2] and all("train/loss" in c[2] for c in logged)
    assert calls[-1] == ("finish",)


@pytest.mark.parametrize("label", ["../../etc", "a/b", "[/]\x1b[2J", ".."])
def test_hostile_labels_stay_inside_the_log_folder(tmp_path, label):
    folder = run_folder(tmp_path, "s/../x", label, 3)
    assert folder.resolve().is_relative_to(tmp_path.resolve())
    assert len(folder.relative_to(tmp_path).parts) == 3 and folder.name == "seed-3"
    assert "\x1b" not in str(folder)


def test_labels_that_differ_get_folders_of_their_own(tmp_path):
    """'a/b' and 'a_b' (and 'a b') would share one folder if only reduced to safe characters,
    and their curves would merge."""
    labels = ["a/b", "a_b", "a b", "x" * 100 + "1", "x" * 100 + "2"]
    folders = {run_folder(tmp_path, "s", label, 0) for label in labels}
    assert len(folders) == len(labels)
    assert run_folder(tmp_path, "s/1", "CE", 0) != run_folder(tmp_path, "s_1", "CE", 0)


def test_tensorboard_on_a_file_is_one_line_before_training(cli, tiny_suite, tmp_path, cache_dir):
    target = tmp_path / "a-file"
    target.write_text("x")
    result = cli("compare", "--suite", tiny_suite, "--tensorboard", target)
    assert result.exit_code == 2 and result.stderr.startswith("error: --tensorboard") and result.stderr.count("\n") == 1
    assert RunStore(cache_dir).all_runs() == []  # nothing trained


def test_live_logs_forward_every_engine_event_to_the_display(tmp_path):
    from modbench.bench.live_logs import LiveLogs
    from modbench.engine.events import Observer

    seen = []

    class Recorder(Observer):
        pass

    names = [n for n in vars(Observer) if not n.startswith("_")]
    for name in names:
        setattr(Recorder, name, lambda self, *a, _n=name, **k: seen.append(_n))
    logs = LiveLogs(suite="s", tensorboard=None, wandb=False, cache_root=tmp_path).alongside(Recorder())
    run = type("R", (), {"key": "k", "label": "L", "seed": 0, "config": {}})()
    logs.run_numerics(run, {"device": "cpu"})
    logs.run_start(run, start_epoch=0, epochs=1, steps_per_epoch=1)
    logs.batch_end(step=1, loss=1.0, images_per_s=1.0)
    logs.epoch_end(epoch=1, record={})
    logs.run_end(run, status="done")
    logs.message("m")
    assert sorted(seen) == sorted(names)
