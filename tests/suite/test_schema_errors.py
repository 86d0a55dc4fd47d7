"""Suite validation: every problem is one SuiteError line naming file, key path and the fix."""

from __future__ import annotations

import copy

import pytest

from modbench.errors import UserError
from modbench.suite.loader import SuiteError, load_suite

from helpers import TINY_SUITE


def suite_with(**changes):
    data = copy.deepcopy(TINY_SUITE)
    for path, value in changes.items():
        node = data
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node[key]
        last = keys[-1]
        if value is DELETE:
            del node[last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
    return data


DELETE = object()


@pytest.mark.parametrize(
    "changes, key_path, fragment",
    [
        ({"train__epochs": 0}, "train.epochs", "greater than or equal to 1"),
        ({"train__lr": 0}, "train.lr", "greater than 0"),
        ({"train__lr": -1e-3}, "train.lr", "greater than 0"),
        ({"train__batch_size": "big"}, "train.batch_size", "valid integer"),
        ({"train__betas": [0.9, 1.5]}, "train.betas", "[0, 1)"),
        ({"train__optimizer": "adagrad"}, "train.optimizer", "'adam'"),
        ({"train__epoch": 3}, "train.epoch", "did you mean 'epochs'"),
        ({"datset": {"name": "digits"}}, "datset", "unknown key 'datset'; did you mean 'dataset'"),
        ({"dataset__name": "digts"}, "dataset.name", "did you mean 'digits'"),
        ({"backbone__name": "resnet5"}, "backbone.name", "unknown backbone 'resnet5'"),
        ({"losses__1__name": "improvd"}, "losses[1].name", "did you mean 'improved'"),
        ({"losses__1__params": {"beta": 4, "gama": 5}}, "losses[1].params.gama", "unknown key 'gama'"),
        ({"losses__1__params": {"beta": -1}}, "losses[1].params.beta", "greater than 0"),
        ({"losses": []}, "losses", "at least 1"),
        ({"seeds": [0, 0]}, "seeds", "distinct"),
        ({"train": DELETE}, "train", "required key is missing"),
        ({"dataset__subset": 0}, "dataset.subset", "greater than or equal to 1"),
        ({"dataset__val_fraction": 1.5}, "dataset.val_fraction", "less than 1"),
        ({"eval": {"metrics": ["nmi", "recal@1"]}}, "eval.metrics", "recal@1"),
        ({"train__sampler": "balanced"}, "train.sampler", "'m-per-class'"),
        ({"train__m": 1}, "train.m", "greater than or equal to 2"),
        ({"train__select": "best"}, "train.select", "'best-val'"),
        ({"dataset__labels": "superfine"}, "dataset.labels", "'coarse'"),
        ({"dataset__labels": "coarse"}, "dataset.labels", "applies to cifar100 only"),
        ({"backbone__embedding_dim": 1}, "backbone.embedding_dim", "greater than or equal to 2"),
        ({"losses__2__params": {"miner": "hardest"}}, "losses[2].params.miner", "semihard"),
    ],
)
def test_invalid_suite_names_key_and_problem(write_suite, changes, key_path, fragment):
    path = write_suite(suite_with(**changes))
    with pytest.raises(SuiteError) as info:
        load_suite(str(path))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {key_path}: "), message
    assert fragment in message, message


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "empty file"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("name: [unclosed\n", "invalid YAML at line"),
        ("name: a\nname: b\n", "duplicate key 'name'"),
        ("name: !!python/object/apply:os.system ['echo pwned']\n", "unsafe or unknown YAML tag"),
    ],
)
def test_unreadable_yaml(write_suite, text, fragment):
    path = write_suite(text)
    with pytest.raises(SuiteError) as info:
        load_suite(str(path))
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_binary_file(tmp_path):
    path = tmp_path / "suite.yaml"
    path.write_bytes(b"\x00\x01\x02\xff")
    with pytest.raises(SuiteError, match="not a UTF-8 text file|binary file"):
        load_suite(str(path))


def test_unknown_builtin_suite_suggests_closest():
    with pytest.raises(UserError, match="unknown suite 'digit'; did you mean 'digits'"):
        load_suite("digit")


def test_missing_suite_file():
    with pytest.raises(UserError, match="suite file not found"):
        load_suite("no/such/suite.yaml")


def test_builtin_digits_suite_is_valid():
    suite, source = load_suite("digits")
    assert suite.name == "digits" and source == "suites/digits.yaml"
    # ... and the controls (docs/losses.md): cross-entropy x exp(5), the sigmoid reading
    assert [loss.name for loss in suite.losses] == [
        "cross-entropy", "improved", "triplet", "cross-entropy", "improved-sigmoid"]


def test_cli_schema_error_is_one_line_exit_2(cli, write_suite):
    path = write_suite(suite_with(train__epochs=0))
    result = cli("train", "--suite", path)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "train.epochs" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("key", ["name", "losses__0__label"])
@pytest.mark.parametrize("text", ["\x1b[2J", "\x1b]0;owned\x07", "row\n| forged |", "a\tb", "a\u2028b", "a\x85b"])
def test_control_characters_in_names_and_labels_are_refused(write_suite, key, text):
    path = write_suite(suite_with(**{key: text}))
    with pytest.raises(SuiteError) as info:
        load_suite(str(path))
    message = str(info.value)
    assert "\n" not in message and "\x1b" not in message and "control character or line break" in message
    assert message.startswith(f"{path}: {key.replace('__0__', '[0].')}: ")


@pytest.mark.parametrize("text", ["[/]", "[link=http://x]x[/link]", "<script>alert(1)</script>", "Новая функция", "β=4 (γ=5)"])
def test_markup_and_non_ascii_text_are_data_and_load(write_suite, text):
    suite, _ = load_suite(str(write_suite(suite_with(losses__0__label=text))))
    assert suite.losses[0].label == text
