"""A loss entry with its own optimizer (``optimizer: adamw``, the AdamW control of the paper
suites): its runs train with that optimizer, the key says so, and it is the suite as written
(not a deviation); the protocol and the notes under the tables show each loss's optimizer."""

from __future__ import annotations

import copy

import torch

from helpers import TINY_SUITE


def _suite(write_suite):
    data = copy.deepcopy(TINY_SUITE)
    data["train"]["epochs"] = 1
    data["losses"] = [
        {"name": "improved", "label": "New loss", "params": {"beta": 4, "gamma": 5}},
        {"name": "improved", "label": "New loss (AdamW)", "params": {"beta": 4, "gamma": 5}, "optimizer": "adamw"},
    ]
    return write_suite(data, "peropt.yaml")


def _runs(write_suite):
    from modbench.suite.loader import load_suite
    from modbench.suite.runs import resolve_runs

    suite, source = load_suite(str(_suite(write_suite)))
    return suite, {r.label: r for r in resolve_runs(suite, source)}


def test_the_entrys_optimizer_reaches_torch_and_the_run_key(write_suite):
    from modbench.engine.optim import build_optimizers
    from modbench.losses import resolve_loss

    suite, runs = _runs(write_suite)
    plain, adamw = runs["New loss"], runs["New loss (AdamW)"]
    assert plain.config["train"]["optimizer"] == "adam" and adamw.config["train"]["optimizer"] == "adamw"
    assert plain.key != adamw.key
    assert {k: v for k, v in adamw.config["train"].items() if k != "optimizer"} == {
        k: v for k, v in plain.config["train"].items() if k != "optimizer"}
    spec = resolve_loss("improved")
    loss = spec.build(spec.params(beta=4, gamma=5), 10, 16)
    optimizers, groups = build_optimizers(torch.nn.Linear(4, 16), loss, adamw.config["train"])
    assert type(optimizers[0]) is torch.optim.AdamW and len(optimizers) == 1
    assert {g["optimizer"] for g in groups} == {"adamw"}


def test_an_entrys_own_optimizer_is_the_suite_as_written(write_suite):
    from modbench.results.deviations import config_deviations, per_loss_lr_note, written_sections

    suite, runs = _runs(write_suite)
    written = written_sections(suite)
    for label, run in runs.items():
        assert config_deviations(run.config, written, label=label) == [], label
    moved = copy.deepcopy(runs["New loss"].config)
    moved["train"]["optimizer"] = "sgd"
    (dev,) = config_deviations(moved, written, label="New loss")
    assert dev.key == "train.optimizer" and dev.suite_value == "adam"
    assert per_loss_lr_note(suite) == "Optimizer per loss (as the suite writes it): New loss adam, New loss (AdamW) adamw."


def test_entries_differing_only_in_optimizer_without_labels_are_refused(write_suite, cli, tmp_path):
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = [{"name": "improved"}, {"name": "improved", "optimizer": "adamw"}]
    result = cli("report", "--suite", write_suite(data), "--cache-dir", tmp_path / "c")
    assert result.exit_code == 2 and "set 'label'" in result.output


def test_the_report_protocol_shows_each_losss_optimizer(write_suite, cli, tmp_path):
    suite = _suite(write_suite)
    cache = tmp_path / "cache"
    assert cli("compare", "--suite", suite, "--device", "cpu", "--cache-dir", cache).exit_code == 0
    result = cli("report", "--suite", suite, "--cache-dir", cache, "--markdown")
    assert result.exit_code == 0, result.stderr[-1500:]
    out = result.stdout
    joined = out.replace("\n  ", " ")  # the protocol's list items, each on one line
    assert "optimizer per loss (see Losses)" in joined
    rows = {line.split("**")[1]: line for line in joined.splitlines() if line.startswith("- **") and "; seeds done" in line}
    assert "; optimizer adamw;" in rows["New loss (AdamW)"] and "; optimizer adam;" in rows["New loss"]
    assert "Differs from the suite as written" not in out
