"""The per-loss learning rate the tuned suite uses (``LossEntry.lr``): it changes only the runs
of its own loss, and a suite without it keeps every run key it had."""

from __future__ import annotations

import copy

import yaml

from helpers import TINY_SUITE
from modbench.suite.loader import load_suite
from modbench.suite.runs import canonical_json, config_key, resolve_runs


def _runs(tmp_path, data):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    suite, source = load_suite(str(path))
    return {r.label: r for r in resolve_runs(suite, source)}


def test_a_loss_lr_changes_its_own_runs_only(tmp_path):
    plain = _runs(tmp_path, TINY_SUITE)
    for run in plain.values():  # unchanged keys: the config as it always was, hashed
        assert run.config["train"]["lr"] == TINY_SUITE["train"]["lr"]
        assert run.key == config_key(run.config)
    data = copy.deepcopy(TINY_SUITE)
    data["losses"][1]["lr"] = 3.0e-4
    tuned = _runs(tmp_path, data)
    assert tuned["New loss"].config["train"]["lr"] == 3.0e-4 and tuned["New loss"].key != plain["New loss"].key
    assert {k: r.key for k, r in tuned.items() if k != "New loss"} == {k: r.key for k, r in plain.items() if k != "New loss"}
    assert canonical_json(tuned["CE"].config) == canonical_json(plain["CE"].config)
