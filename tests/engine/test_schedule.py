"""``modbench/engine/schedule.py``: each schedule's learning rate at every step, against the
formula written out here, for every parameter group alike; and exact resume with a schedule."""

from __future__ import annotations

import copy
import json
import math
import signal

import pytest
import torch
import yaml

from modbench.cache.store import RunStore
from modbench.engine.runner import Runner
from modbench.engine.schedule import build_schedulers
from modbench.suite.loader import load_suite
from modbench.suite.runs import resolve_runs

from helpers import TINY_SUITE

STEPS_PER_EPOCH, EPOCHS = 4, 6
BASE = (1e-3, 1e-1)  # two groups, the second at 100x the first (as proxies are)


def lrs(train: dict, optimizer_kind=torch.optim.SGD) -> list[tuple[float, float]]:
    """The learning rate of each group at every optimizer step of the run."""
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = optimizer_kind([{"params": [a], "lr": BASE[0]}, {"params": [b], "lr": BASE[1]}])
    schedulers, description = build_schedulers([opt], {"epochs": EPOCHS, **train}, STEPS_PER_EPOCH)
    out = []
    for _ in range(EPOCHS * STEPS_PER_EPOCH):
        out.append(tuple(g["lr"] for g in opt.param_groups))
        opt.step()
        for s in schedulers:
            s.step()
    return out


def expected_cosine(t: int, base: float, warmup: int, total: int) -> float:
    if t < warmup:
        return base * (t + 1) / (warmup + 1)
    return base * 0.5 * (1 + math.cos(math.pi * (t - warmup) / (total - warmup)))


def expected_step(t: int, base: float, warmup: int, step: int, gamma: float) -> float:
    if t < warmup:
        return base * (t + 1) / (warmup + 1)
    return base * gamma ** ((t - warmup) // step)


def expected_onecycle(t: int, peak: float, rise: int, total: int) -> float:
    """Smith & Topin's one cycle as torch documents it: from peak/25 up to peak over the rise
    (cosine), then down to peak/25/1e4 (cosine) by the last step."""
    start, end = peak / 25, peak / 25 / 1e4

    def cos(a, b, frac):
        return b + (a - b) / 2 * (1 + math.cos(math.pi * frac))

    if t <= rise - 1:
        return cos(start, peak, t / (rise - 1))
    return cos(peak, end, (t - (rise - 1)) / (total - 1 - (rise - 1)))


TOTAL = EPOCHS * STEPS_PER_EPOCH


@pytest.mark.parametrize("warmup_epochs", [0, 1.5])
def test_cosine_with_warmup_at_every_step_for_every_group(warmup_epochs):
    warmup = round(warmup_epochs * STEPS_PER_EPOCH)
    got = lrs({"scheduler": "cosine", "warmup_epochs": warmup_epochs})
    for t, pair in enumerate(got):
        for lr, base in zip(pair, BASE):
            assert lr == pytest.approx(expected_cosine(t, base, warmup, TOTAL), rel=1e-9, abs=1e-15), t


def test_step_decays_every_step_size_epochs_after_the_warmup():
    got = lrs({"scheduler": "step", "warmup_epochs": 1, "step_size": 2, "gamma": 0.5})
    for t, pair in enumerate(got):
        for lr, base in zip(pair, BASE):
            assert lr == pytest.approx(expected_step(t, base, STEPS_PER_EPOCH, 2 * STEPS_PER_EPOCH, 0.5), rel=1e-9), t
    # gamma defaults to torch's 0.1
    got = lrs({"scheduler": "step", "step_size": 3})
    assert got[3 * STEPS_PER_EPOCH][0] == pytest.approx(BASE[0] * 0.1) and got[3 * STEPS_PER_EPOCH - 1][0] == BASE[0]


def test_onecycle_peaks_at_each_groups_own_rate_after_the_warmup():
    got = lrs({"scheduler": "onecycle", "warmup_epochs": 2}, torch.optim.Adam)
    for t, pair in enumerate(got):
        for lr, base in zip(pair, BASE):
            assert lr == pytest.approx(expected_onecycle(t, base, 2 * STEPS_PER_EPOCH, TOTAL), rel=1e-6), t
    assert max(p[1] for p in got) == pytest.approx(BASE[1])


def test_constant_with_warmup_ramps_then_stays_and_without_it_has_no_scheduler():
    got = lrs({"scheduler": "constant", "warmup_epochs": 1})
    assert [p[1] for p in got[:STEPS_PER_EPOCH]] == pytest.approx([BASE[1] * (t + 1) / 5 for t in range(4)])
    assert all(p == pytest.approx(BASE) for p in got[STEPS_PER_EPOCH:])
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    schedulers, description = build_schedulers([opt], {"epochs": 2}, 3)
    assert schedulers == [] and description["scheduler"] == "constant"


def test_every_optimizer_of_a_run_gets_the_same_schedule():
    """The margin loss's beta has its own SGD: its rate follows the same factor."""
    net = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    beta = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    schedulers, description = build_schedulers([net, beta], {"epochs": 2, "scheduler": "cosine"}, 2)
    assert len(schedulers) == 2 and description["torch"] == "CosineAnnealingLR"
    for _ in range(3):
        for s in schedulers:
            net.step(), beta.step(), s.step()
        assert beta.param_groups[0]["lr"] / net.param_groups[0]["lr"] == pytest.approx(100)


# --- the suite: schema, run identity, result, resume ---------------------------------------


def suite_with(write_suite, **train):
    data = copy.deepcopy(TINY_SUITE)
    data["train"].update({"epochs": 3, **train})
    return load_suite(str(write_suite(data)))


def test_schedule_is_part_of_the_run_key_and_the_default_leaves_the_config_as_it_was(write_suite):
    suite, source = suite_with(write_suite)
    plain = resolve_runs(suite, source)[0]
    assert not {"scheduler", "warmup_epochs", "step_size", "gamma", "weight_decay_on"} & plain.config["train"].keys()
    suite, source = suite_with(write_suite, scheduler="cosine", warmup_epochs=1)
    cosine = resolve_runs(suite, source)[0]
    assert cosine.config["train"]["scheduler"] == "cosine" and cosine.config["train"]["warmup_epochs"] == 1
    assert cosine.key != plain.key
    suite, source = suite_with(write_suite, weight_decay_on="all")
    decay_all = resolve_runs(suite, source)[0]
    assert decay_all.config["train"]["weight_decay_on"] == "all" and decay_all.key != plain.key


@pytest.mark.parametrize("train, message", [
    ({"scheduler": "step"}, "needs step_size"),
    ({"scheduler": "cosine", "step_size": 2}, "step_size applies to scheduler: step only"),
    ({"scheduler": "onecycle"}, "warmup_epochs > 0"),
    ({"scheduler": "cosine", "warmup_epochs": 3}, "must be below epochs"),
    ({"scheduler": "linear"}, "scheduler"),
])
def test_bad_schedule_settings_are_one_clear_error(cli, write_suite, tmp_path, train, message):
    data = copy.deepcopy(TINY_SUITE)
    data["train"].update({"epochs": 3, **train})
    result = cli("report", "--suite", write_suite(data), "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def _train(root, runs, eval_cfg, observer=None):
    return Runner(RunStore(root), device=torch.device("cpu"), observer=observer).train(runs, eval_cfg)[0]


def test_result_records_the_schedule_and_history_the_rate(write_suite, tmp_path):
    suite, source = suite_with(write_suite, scheduler="step", step_size=1, gamma=0.5, epochs=2)
    runs = resolve_runs(suite, source, losses=["CE"])
    done = _train(tmp_path, runs, suite.eval.model_dump(mode="json"))
    schedule = done.result["schedule"]
    assert schedule["scheduler"] == "step" and schedule["gamma"] == 0.5 and schedule["step_size_epochs"] == 1
    assert schedule["total_steps"] == 2 * schedule["steps_per_epoch"]
    history = RunStore(tmp_path).run(runs[0].key).read_history()
    assert [h["lr"] for h in history] == pytest.approx([1e-3 * 0.5, 1e-3 * 0.25])


def test_interrupted_scheduled_run_resumes_to_the_same_numbers(write_suite, tmp_path):
    from modbench.engine.events import Observer

    class StopAfter(Observer):
        def epoch_end(self, *, epoch, record):
            if epoch == 1:
                raise KeyboardInterrupt

    suite, source = suite_with(write_suite, scheduler="cosine", warmup_epochs=1)
    runs = resolve_runs(suite, source, losses=["New loss"])
    eval_cfg = suite.eval.model_dump(mode="json")
    reference = _train(tmp_path / "ref", runs, eval_cfg).result
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path / "int", runs, eval_cfg, StopAfter())
    assert RunStore(tmp_path / "int").run(runs[0].key).load_checkpoint()["schedulers"]
    resumed = _train(tmp_path / "int", runs, eval_cfg)
    assert resumed.status == "trained" and resumed.result["metrics"] == reference["metrics"]
    ref_history = RunStore(tmp_path / "ref").run(runs[0].key).read_history()
    history = RunStore(tmp_path / "int").run(runs[0].key).read_history()
    assert [(h["train_loss"], h["lr"]) for h in history] == [(h["train_loss"], h["lr"]) for h in ref_history]


@pytest.mark.slow  # real subprocesses killed with SIGKILL (~5 s of CPU each)
def test_killed_scheduled_run_resumes_to_the_same_numbers(tmp_path):
    from subprocess_runs import run_modbench, subprocess_env

    data = copy.deepcopy(TINY_SUITE)
    data["train"].update({"epochs": 3, "scheduler": "onecycle", "warmup_epochs": 1})
    suite = tmp_path / "tiny.yaml"
    suite.write_text(yaml.safe_dump(data, sort_keys=False))
    only = ("--loss", "New loss")
    reference = run_modbench("compare", suite, tmp_path / "ref", *only, "--json")
    assert reference.returncode == 0, reference.stderr
    killed = run_modbench("train", suite, tmp_path / "int", *only,
                          env=subprocess_env(HOOK_KILL_AT="after-checkpoint:2"))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    resumed = run_modbench("compare", suite, tmp_path / "int", *only, "--json")
    assert resumed.returncode == 0, resumed.stderr

    def metrics(proc):
        return [(r["label"], r["seed"], r["nmi"], r["f1"], r["recall@1"], r["accuracy"]) for r in json.loads(proc.stdout)]

    assert metrics(resumed) == metrics(reference) and metrics(reference)[0][2] is not None
