"""A loss that blows up: a non-finite loss or gradient stops that run, records it as failed
(epoch, step, reason), the other runs go on, tables show "failed", the exit code is 1; the
failed run is retried only with --force or after its configuration changes."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from modbench.cache.store import RunStore
from modbench.engine.device_data import load_splits
from modbench.engine.sampler import epoch_batches
from modbench.losses import LOSSES
from modbench.suite.loader import load_suite
from modbench.suite.runs import resolve_runs

from helpers import TINY_SUITE

from . import nan_loss

NAME = "test-blow-up"


@pytest.fixture(autouse=True)
def blow_up_loss():
    """Registered for this module's tests only."""
    LOSSES.add(NAME, f"{nan_loss.__name__}:SPEC", "test only: non-finite at a chosen call")
    yield
    LOSSES._entries.pop(NAME)


def suite_file(write_suite, nan_at: int, mode: str):
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = [
        {"name": "cross-entropy", "label": "CE"},
        {"name": NAME, "label": "Blow-up", "params": {"nan_at": nan_at, "mode": mode}},
    ]
    return write_suite(data, f"blow-up-{nan_at}-{mode}.yaml")


def steps_per_epoch(path) -> int:
    suite, source = load_suite(str(path))
    cfg = resolve_runs(suite, source)[0].config
    splits = load_splits(cfg["dataset"], data_dir=None, download=False)
    batches = epoch_batches(splits.train_labels, batch_size=cfg["train"]["batch_size"], sampler="random",
                            m=cfg["train"]["m"], generator=torch.Generator().manual_seed(0))
    return len(batches)


@pytest.mark.parametrize("mode", ["loss", "grad"])
def test_non_finite_run_fails_alone_and_is_not_retried(cli, write_suite, cache_dir, mode):
    probe = suite_file(write_suite, 1, mode)
    spe = steps_per_epoch(probe)
    assert spe >= 2
    suite = suite_file(write_suite, spe + 2, mode)  # epoch 2, step 2
    blow_up_key = resolve_runs(*load_suite(str(suite)), losses=["Blow-up"])[0].key
    run_dir = RunStore(cache_dir).run(blow_up_key)

    first = cli("compare", "--suite", suite, "--device", "cpu")
    assert first.exit_code == 1, first.stderr
    assert "Traceback" not in first.stderr
    failure = json.loads(run_dir.failed_file.read_text())
    assert (failure["epoch"], failure["step"]) == (2, 2)
    assert failure["reason"] == "non-finite loss or gradient"
    assert run_dir.load_checkpoint()["epoch"] == 1  # the last finite state; nothing after it
    assert run_dir.result() is None
    rows = {}
    table1 = first.stdout.split("Table 1 layout", 1)[1]  # the verdict table comes before it
    for line in table1.splitlines():  # Table 1's rows (later tables repeat the labels)
        if line.count("│") > 3:
            rows.setdefault(line.split("│")[1].strip(), line)
    # Every metric cell of Table 1 (NMI, F1 (pairs), macro-F1, ... since both F1s are shown)
    cells = [c.strip() for c in rows["Blow-up"].split("│")[3:-1]]
    assert len(cells) >= 2 and set(cells) == {"failed"}
    assert "failed" not in rows["CE"] and "0." in rows["CE"]  # the other run trained
    warning = [line for line in first.stderr.splitlines() if line.startswith("warning:")]
    assert warning == [
        "warning: run 'Blow-up' seed 0 failed at epoch 2, step 2: non-finite loss or gradient "
        "(retried only with --force)"
    ]

    calls = nan_loss.CALLS["n"]
    again = cli("compare", "--suite", suite, "--device", "cpu", "--json")
    assert again.exit_code == 1
    assert nan_loss.CALLS["n"] == calls  # not trained again
    records = {r["label"]: r for r in json.loads(again.stdout)}
    assert records["Blow-up"]["status"] == "failed" and records["Blow-up"]["failure"]["step"] == 2
    assert records["CE"]["status"] == "done"

    forced = cli("train", "--suite", suite, "--device", "cpu", "--loss", "Blow-up", "--force")
    assert forced.exit_code == 1
    assert nan_loss.CALLS["n"] == calls + spe + 2  # trained from scratch up to the same step

    changed = suite_file(write_suite, 10_000, mode)  # a new configuration: a new run, trains
    fixed = cli("train", "--suite", changed, "--device", "cpu", "--loss", "Blow-up")
    assert fixed.exit_code == 0, fixed.stderr
    assert "trained  Blow-up" in fixed.stderr
