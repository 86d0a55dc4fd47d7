"""A run has one typed form (``RunSpec``): its key is the hash of its configuration's canonical
JSON, made from the configuration and never beside it; "the same configuration, X aside" is one
rule (``suite.keys.configuration_key``); the loaded state of a suite is written by the loader only."""

from __future__ import annotations

import ast
import copy
import dataclasses
import hashlib
import json
from pathlib import Path

import modbench
from modbench.suite.keys import ACROSS_OVERRIDES, ACROSS_SEEDS, OVERRIDABLE, configuration_key
from modbench.suite.loader import load_suite
from modbench.suite.runs import RunSpec, apply_overrides, resolve_runs, with_data_digest
from modbench.suite.selection import select_runs

from helpers import TINY_SUITE


def _naive_key(config) -> str:
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def test_the_key_is_the_hash_of_the_configuration(write_suite):
    runs = resolve_runs(*load_suite(str(write_suite(TINY_SUITE))))
    assert runs and all(r.key == _naive_key(r.config) for r in runs)
    assert len({r.key for r in runs}) == len(runs)


def test_a_changed_configuration_is_a_new_key(write_suite):
    (run, *_) = resolve_runs(*load_suite(str(write_suite(TINY_SUITE))))
    other = run.with_config(tune={"evaluate_on": "validation"})
    assert other.key == _naive_key({**run.config, "tune": {"evaluate_on": "validation"}}) != run.key
    assert other.params is run.params and other.label == run.label and run.config.get("tune") is None
    stale = dataclasses.replace(run, config=other.config)  # the old key passed along is not kept
    assert stale.key == other.key
    cached = RunSpec.cached(suite="s", label="l", loss=run.loss, config=run.config, key="f" * 20)
    assert cached.key == "f" * 20 and dataclasses.replace(cached, label="m").key == "f" * 20


def test_a_tuning_trial_is_planned_like_the_suites_run(write_suite):
    """A trial of the suite's own parameters is the suite's run plus the trial marker."""
    from modbench.suite.runs import loss_settings_of
    from modbench.tune.trials import trial_run

    suite, source = load_suite(str(write_suite(TINY_SUITE)))
    setting = next(s for s in loss_settings_of(suite) if s.name == "improved")
    trial = trial_run(suite, source, setting, {"beta": 4.0})
    (suite_run,) = [r for r in resolve_runs(suite, source) if r.label == setting.label and r.seed == suite.seeds[0]]
    assert trial.config == {**suite_run.config, "tune": {"evaluate_on": "validation"}}
    assert trial.key == _naive_key(trial.config)
    changed = trial_run(suite, source, setting, {"beta": 2.0, "lr": 0.5})
    assert changed.config["loss"]["params"]["beta"] == 2.0 and changed.config["train"]["lr"] == 0.5
    assert suite.loss_settings is not None and setting in suite.loss_settings  # the suite's settings untouched


def test_overrides_and_restamping_keep_the_loaded_state(write_suite, tmp_path):
    suite, source = load_suite(str(write_suite(TINY_SUITE)))
    for changed in (apply_overrides(suite, epochs=3, seeds=[4]), with_data_digest(suite)):
        assert changed.loss_settings == suite.loss_settings and changed.source_dir == suite.source_dir
        assert changed.source == suite.source
    assert apply_overrides(suite, epochs=3).train.epochs == 3


def test_only_the_loader_writes_a_suites_loaded_state():
    writers = set()
    for path in Path(modbench.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            for target in targets:
                for t in (target.elts if isinstance(target, ast.Tuple) else [target]):
                    if isinstance(t, ast.Attribute) and t.attr in ("_loss_settings", "_source", "_source_dir",
                                                                     "_references"):
                        writers.add(path.relative_to(Path(modbench.__file__).parent).as_posix())
    assert writers == {"suite/loader.py"}


def _naive_without(config, paths):
    out = copy.deepcopy(config)
    for path in paths:
        if "." in path:
            section, key = path.split(".")
            out.get(section, {}).pop(key, None)
        else:
            out.pop(path, None)
    return json.dumps(out, sort_keys=True, separators=(",", ":"))


def test_configuration_minus_x_is_one_rule(write_suite):
    (run, *_) = select_runs(str(write_suite(TINY_SUITE))).runs
    config = run.config
    assert configuration_key(config, ACROSS_SEEDS) == _naive_without(config, ["seed"])
    assert configuration_key(config, ACROSS_OVERRIDES) == _naive_without(config, ["seed", "code", *OVERRIDABLE])
    assert "train.epochs" in OVERRIDABLE and "dataset.subset" in OVERRIDABLE
    other = {**config, "seed": 7, "code": {"digest": "x"}, "train": {**config["train"], "epochs": 99, "cpu_threads": 3}}
    assert configuration_key(other, ACROSS_OVERRIDES) == configuration_key(config, ACROSS_OVERRIDES)
    assert configuration_key(other, ACROSS_SEEDS) != configuration_key(config, ACROSS_SEEDS)
