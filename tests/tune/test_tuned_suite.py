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


# -- the tuned: section's claims are verified, never printed as fact ------------------------------

def _tuned_file(tmp_path, trials=3):
    from modbench.tune.tuned_suite import tuned_checksum, write_tuned_suite

    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = data["losses"][:1]
    data["train"]["epochs"] = 1
    data["tuned"] = {"source": "tiny.yaml", "trials": trials, "metric": "map@r", "split": "validation",
                     "storage": "sqlite:///x.db", "pruner": "median", "studies": {}}
    data["tuned"]["checksum"] = tuned_checksum(data)
    path = tmp_path / "tiny-tuned.yaml"
    write_tuned_suite(path, data)
    return path


def test_a_tuned_section_as_tune_wrote_it_is_verified(tmp_path):
    from modbench.tune.tuned_suite import tuned_note

    path = _tuned_file(tmp_path)
    suite, source = load_suite(str(path))
    assert tuned_note(suite.tuned, source) == "tuned: 3 trials per loss on validation (map@r)"


def test_an_edited_claim_is_shown_as_unverified(tmp_path):
    from modbench.tune.tuned_suite import UNVERIFIED_NOTE, tuned_note

    path = _tuned_file(tmp_path)
    path.write_text(path.read_text().replace("trials: 3", "trials: 500"))
    suite, source = load_suite(str(path))
    assert suite.tuned.trials == 500
    assert tuned_note(suite.tuned, source) == UNVERIFIED_NOTE
    data = yaml.safe_load(path.read_text())  # a parameter edited under a genuine tuned: section
    data["tuned"]["trials"] = 3
    data["losses"][0]["params"] = {"label_smoothing": 0.3}
    path.write_text(yaml.safe_dump(data))
    suite, source = load_suite(str(path))
    assert tuned_note(suite.tuned, source) == UNVERIFIED_NOTE
    data["tuned"].pop("checksum")  # written by hand
    path.write_text(yaml.safe_dump(data))
    assert tuned_note(load_suite(str(path))[0].tuned, str(path)) == UNVERIFIED_NOTE


def test_compare_never_prints_an_edited_claim(tmp_path, cli, cache_dir):
    path = _tuned_file(tmp_path)
    path.write_text(path.read_text().replace("trials: 3", "trials: 500"))
    result = cli("compare", "--suite", path, "--cache-dir", cache_dir, "--device", "cpu", "--markdown")
    assert result.exit_code == 0, result.stderr
    assert "500 trials" not in result.stdout and "NOT verified" in result.stdout
