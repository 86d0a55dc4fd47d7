"""Suite messages say what to fix, all of them at once."""

from __future__ import annotations

import copy

import pytest

from modbench.suite.loader import SuiteError, load_suite
from modbench.suite.runs import resolve_runs

from helpers import TINY_SUITE


def test_a_misspelt_key_is_named_not_reported_missing(write_suite):
    data = copy.deepcopy(TINY_SUITE)
    data["train"]["epoch"] = data["train"].pop("epochs")
    path = write_suite(data)
    with pytest.raises(SuiteError) as info:
        load_suite(str(path))
    assert str(info.value).startswith(f"{path}: train.epoch: unknown key 'epoch'; did you mean 'epochs'?")
    assert "required key is missing" not in str(info.value)


def test_every_problem_of_a_file_is_reported_one_per_line(write_suite):
    data = copy.deepcopy(TINY_SUITE)
    data["train"]["lr"] = -1
    data["dataset"]["val_fraction"] = 2
    data["losses"][1]["params"] = {"beta": -4, "gama": 5}
    path = write_suite(data)
    with pytest.raises(SuiteError) as info:
        load_suite(str(path))
    lines = str(info.value).split("\n")
    assert [line.split(": ")[1] for line in lines] == [
        "dataset.val_fraction", "train.lr", "losses[1].params.beta", "losses[1].params.gama"
    ], lines
    assert all(line.startswith(f"{path}: ") for line in lines)


def test_problems_of_names_and_parameters_are_reported_together(write_suite):
    data = copy.deepcopy(TINY_SUITE)
    data["backbone"]["name"] = "resnet5"
    data["losses"][0]["name"] = "improvd"
    data["losses"][2]["params"] = {"miner": "hardest"}
    with pytest.raises(SuiteError) as info:
        load_suite(str(write_suite(data)))
    paths = [line.split(": ")[1] for line in str(info.value).split("\n")]
    assert paths == ["backbone.name", "losses[0].name", "losses[2].params.miner"]
    assert "unknown loss 'improvd'; did you mean 'improved'?" in str(info.value)


def test_cli_prints_each_problem_on_its_own_error_line_exit_2(cli, write_suite):
    data = copy.deepcopy(TINY_SUITE)
    data["train"]["lr"] = -1
    data["train"]["epoch"] = data["train"].pop("epochs")
    result = cli("train", "--suite", write_suite(data))
    assert result.exit_code == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and all(line.startswith("error: ") for line in lines), result.stderr
    assert "train.epoch: unknown key 'epoch'; did you mean 'epochs'?" in result.stderr
    assert "train.lr:" in result.stderr


def test_an_unknown_loss_flag_reads_as_a_sentence(write_suite):
    suite, source = load_suite(str(write_suite(TINY_SUITE)))
    with pytest.raises(Exception) as info:
        resolve_runs(suite, source, losses=["triplt"])
    assert str(info.value).startswith("--loss triplt: suite 'tiny' has no loss or label 'triplt'; did you mean 'triplet'?")


def test_eval_suggests_the_command_that_trains_the_missing_run(cli, tiny_suite):
    result = cli("eval", "--suite", tiny_suite, "--seed", "99", "--epochs", "1", "--loss", "CE", "--device", "cpu")
    assert result.exit_code == 1
    assert f"train it with `modbench train --suite {tiny_suite} --seed 99 --epochs 1`" in result.stderr, result.stderr


def test_the_suggested_train_command_can_be_pasted():
    import shlex

    from modbench.suite.hints import train_command

    command = train_command("my suites/a b.yaml", seed=99, subset=3)
    assert shlex.split(command) == ["modbench", "train", "--suite", "my suites/a b.yaml", "--seed", "99", "--subset", "3"]
    assert train_command("digits") == "modbench train --suite digits"


def test_a_missing_required_key_does_not_hide_a_misspelt_name(write_suite):
    """``train`` missing and the dataset ``digts``: both problems at once, one line each."""
    data = copy.deepcopy(TINY_SUITE)
    del data["train"]
    data["dataset"]["name"] = "digts"
    data["backbone"]["name"] = "small-cn"
    path = write_suite(data)
    with pytest.raises(SuiteError) as info:
        load_suite(str(path))
    lines = str(info.value).splitlines()
    assert f"{path}: train: required key is missing" in lines
    assert any(line.startswith(f"{path}: dataset.name: ") and "'digts'" in line and "digits" in line for line in lines)
    assert any(line.startswith(f"{path}: backbone.name: ") and "small-cnn" in line for line in lines)
    assert len(lines) == 3


def test_a_plugin_parameter_problem_has_no_stray_dot(write_suite, tmp_path):
    (tmp_path / "my_losses.py").write_text(
        "import torch\n\nclass NormFace(torch.nn.Module):\n"
        "    def __init__(self, num_classes, embedding_dim, scale: float = 16.0):\n"
        "        super().__init__()\n"
    )
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = [{"name": "cross-entropy"}, {"name": "./my_losses.py:NormFace", "params": {"scal": 2.0}}]
    path = write_suite(data)
    with pytest.raises(SuiteError) as info:
        load_suite(str(path))
    assert str(info.value).startswith(f"{path}: losses[1].params: unknown parameter 'scal'")
