"""Absurd sizes are refused at load (exit 2), before anything trains or
fails late. The bounds are documented in docs/reliability.md."""

from __future__ import annotations

import copy

import pytest

from modbench.suite.loader import SuiteError, load_suite
from modbench.suite.runs import MAX_RUNS

from helpers import TINY_SUITE


def with_(**changes):
    data = copy.deepcopy(TINY_SUITE)
    for path, value in changes.items():
        node = data
        keys = path.split("__")
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return data


@pytest.mark.parametrize(
    "data, key_path, fragment",
    [
        (with_(train__epochs=1e12), "train.epochs", "less than or equal to 10000"),
        (with_(eval__kmeans_n_init=1e9), "eval.kmeans_n_init", "less than or equal to 100"),
        (with_(eval__kmeans_seed=2**64), "eval.kmeans_seed", "less than or equal to 4294967295"),
        (with_(dataset__split_seed=2**40), "dataset.split_seed", "less than or equal to 4294967295"),
        (with_(seeds=list(range(1001))), "seeds", "at most 1000 items"),
        (with_(seeds=[2**64]), "seeds", "seeds must be in 0..4294967295"),
        (with_(train__batch_size=10**9), "train.batch_size", "less than or equal to 65536"),
        (with_(eval__metrics=["nmi", "recall@1000000000000"]), "eval.metrics", "recall@1000000000000: k is at most 10000"),
        (with_(losses=[{"name": "improved", "params": {"beta": [float(b) for b in range(1, 101)]}}], seeds=list(range(101))),
         "losses", f"100 loss setting(s) x 101 seed(s) = 10100 runs, more than {MAX_RUNS}"),
    ],
    ids=["epochs", "n_init", "kmeans_seed", "split_seed", "1001 seeds", "seed 2**64", "batch_size", "recall@k", "runs"],
)
def test_bounds_are_refused_at_load(write_suite, data, key_path, fragment):
    path = write_suite(data)
    with pytest.raises(SuiteError) as info:
        load_suite(str(path))
    message = str(info.value)
    assert message.startswith(f"{path}: {key_path}: ") and fragment in message, message
    assert "\n" not in message


def test_values_at_the_bounds_load(write_suite):
    data = with_(train__epochs=10_000, eval__kmeans_n_init=100, seeds=[0, 2**32 - 1], eval__metrics=["recall@10000"])
    suite, _ = load_suite(str(write_suite(data)))
    assert suite.train.epochs == 10_000 and suite.seeds == [0, 2**32 - 1]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--seed", str(2**64)], "seeds: seeds must be in 0..4294967295"),
        (["--epochs", str(10**12)], "train.epochs: Input should be less than or equal to 10000"),
    ],
)
def test_bad_overrides_on_the_command_line_exit_2(cli, tiny_suite, args, fragment):
    result = cli("train", "--suite", tiny_suite, *args)
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stderr.count("\n") == 1 and fragment in result.stderr and "override" in result.stderr


@pytest.mark.parametrize(
    "env, args, fragment",
    [
        ({"HOME": ""}, [], "HOME is '', not an absolute folder"),
        ({}, ["--cache-dir", "~nosuchuser/x"], "--cache-dir ~nosuchuser/x: no home folder for '~nosuchuser'"),
        ({"MODBENCH_CACHE": "~nosuchuser/x"}, [], "MODBENCH_CACHE ~nosuchuser/x: no home folder"),
    ],
)
def test_a_cache_root_without_a_home_is_a_one_line_exit_2(cli, tiny_suite, monkeypatch, env, args, fragment):
    monkeypatch.delenv("MODBENCH_CACHE")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = cli("train", "--suite", tiny_suite, *args)
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stderr.count("\n") == 1 and fragment in result.stderr, result.stderr
