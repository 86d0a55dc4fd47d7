"""Search spaces: the losses' declared spaces, the suite's ``tune:`` overrides, and the validation of
that section (one line naming the file and the key, exit code 2)."""

from __future__ import annotations

import copy

import pytest
import yaml

from helpers import TINY_SUITE
from modbench.suite.loader import SuiteError, load_suite
from modbench.suite.runs import expand_losses
from modbench.suite.tune_section import LR, LR_RANGE, Range, loss_space



def tiny_suite(path, *, labels=("CE", "New loss"), **extra):
    """The tests' tiny suite with the losses ``labels`` and the top-level keys ``extra``."""
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = [loss for loss in data["losses"] if loss["label"] in labels]
    data.update(extra)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _space(path, label):
    suite, source = load_suite(str(path))
    setting = next(s for s in expand_losses(suite, source) if s.label == label)
    return loss_space(suite, setting, source)


def test_the_papers_ranges_and_a_log_uniform_learning_rate_by_default(tmp_path):
    space = _space(tiny_suite(tmp_path / "s.yaml"), "New loss")
    assert space == {"beta": Range(2.0, 16.0), "gamma": Range(2.0, 21.0), LR: LR_RANGE}
    assert LR_RANGE.log and LR_RANGE.low == 1e-6 and LR_RANGE.high == 1e-2
    from modbench.losses import resolve_loss

    declared = resolve_loss("cross-entropy").search_space or {}  # the loss's own declaration wins
    expected = {k: Range(float(v["low"]), float(v["high"]), bool(v.get("log", False))) for k, v in declared.items()}
    assert _space(tiny_suite(tmp_path / "s.yaml"), "CE") == {**expected, LR: LR_RANGE}


def test_the_space_is_the_one_the_loss_declares(tmp_path, monkeypatch):
    """Whatever the loss declares is searched (plus lr); a loss that declares nothing searches
    its learning rate only."""
    import dataclasses

    import modbench.suite.tune_section as tune_section

    real = tune_section.resolve_loss
    spec = dataclasses.replace(real("improved"), search_space={"beta": {"low": 3, "high": 5, "log": True}})
    monkeypatch.setattr(tune_section, "resolve_loss", lambda name, *a, **k: spec if name == "improved" else real(name, *a, **k))
    space = _space(tiny_suite(tmp_path / "s.yaml"), "New loss")
    assert space == {"beta": Range(3.0, 5.0, log=True), LR: LR_RANGE}
    spec = dataclasses.replace(real("improved"), search_space={})
    assert _space(tiny_suite(tmp_path / "s.yaml"), "New loss") == {LR: LR_RANGE}


def test_the_tune_section_overrides_per_label_and_fixes_the_learning_rate(tmp_path):
    path = tiny_suite(tmp_path / "s.yaml", tune={
        "*": {"lr": "fixed"},
        "New loss": {"beta": {"low": 3, "high": 6, "log": True}, "gamma": "fixed"},
    })
    assert _space(path, "New loss") == {"beta": Range(3.0, 6.0, log=True)}
    assert LR not in _space(path, "CE")


@pytest.mark.parametrize(
    "section, key, words",
    [
        ({"New los": {"beta": {"low": 2, "high": 3}}}, "tune.New los", "did you mean 'New loss'"),
        ({"New loss": {"betta": {"low": 2, "high": 3}}}, "tune.New loss.betta", "did you mean 'beta'"),
        ({"New loss": {"beta": {"low": 3, "high": 2}}}, "tune.New loss.beta", "must be below high"),
        ({"New loss": {"beta": {"low": 0, "high": 2, "log": True}}}, "tune.New loss.beta", "low > 0"),
        ({"New loss": {"beta": {"low": -1, "high": 2}}}, "tune.New loss.beta.low", "not a value loss 'improved' accepts"),
        ({"New loss": {"beta": {"low": 1, "hi": 2}}}, "tune.New loss.beta", "hi"),
        ({"New loss": {"beta": "fixd"}}, "tune.New loss.beta", "or the word fixed"),
        ({"CE": {"lr": {"low": 0, "high": 1}}}, "tune.CE.lr", "low > 0"),
    ],
)
def test_a_bad_tune_section_is_one_line_naming_the_key(tmp_path, section, key, words):
    path = tiny_suite(tmp_path / "s.yaml", tune=section)
    with pytest.raises(SuiteError) as info:
        load_suite(str(path))
    message = str(info.value)
    assert "\n" not in message and str(path) in message and key in message and words in message


def test_the_command_line_says_it_in_one_line_with_exit_code_2(tmp_path, cli):
    path = tiny_suite(tmp_path / "s.yaml", tune={"New loss": {"gamma": {"low": 2, "high": 99}}})
    for command in ("tune", "compare"):
        result = cli(command, "--suite", path, "--cache-dir", tmp_path / "cache")
        assert result.exit_code == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "tune.New loss.gamma.high" in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "cache" / "runs").exists() or not any((tmp_path / "cache" / "runs").iterdir())
