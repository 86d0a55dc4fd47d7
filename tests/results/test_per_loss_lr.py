"""A suite whose losses set their own learning rate (``lr`` in a loss entry, as every tuned suite
does): that is the suite as written, not a deviation. The tables stay one table per layout (not
one per learning rate), ``--baseline`` finds the baseline among all losses, and each loss's
learning rate is stated under the tables. The bug this pins: a `compare --baseline` of a tuned
suite trained every run and then stopped with "no loss labelled ... among the results", each
loss alone in a table titled by its learning rate."""

from __future__ import annotations

import copy

from helpers import TINY_SUITE


def _suite(write_suite):
    data = copy.deepcopy(TINY_SUITE)
    data["train"]["epochs"] = 1
    data["losses"] = [
        {"name": "cross-entropy", "label": "CE", "lr": 2.0e-3},
        {"name": "improved", "label": "New loss", "params": {"beta": 4, "gamma": 5}, "lr": 5.0e-4},
        {"name": "triplet", "label": "Triplet"},  # the suite's train.lr
    ]
    data["seeds"] = [0, 1]
    return write_suite(data, "perlr.yaml")


def test_per_loss_learning_rates_are_one_table_with_a_baseline(write_suite, cli, tmp_path):
    suite = _suite(write_suite)
    args = ("compare", "--suite", suite, "--device", "cpu", "--cache-dir", tmp_path / "cache")
    result = cli(*args, "--baseline", "CE", "--markdown")
    assert result.exit_code == 0, result.stderr[-1500:]
    out = result.stdout
    assert out.count("### Table 1 layout") == 1 and out.count("### Table 2 layout") == 1
    assert "Differs from the suite as written" not in out
    assert out.count("### Verdicts vs CE") == 1 and "| New loss" in out and "| Triplet" in out
    assert "Learning rate per loss (as the suite writes it): CE 0.002, New loss 0.0005, Triplet 0.001." in out


def test_a_run_at_another_learning_rate_than_its_loss_entry_is_still_a_deviation(write_suite):
    from modbench.results.deviations import config_deviations, written_sections
    from modbench.suite.loader import load_suite
    from modbench.suite.runs import resolve_runs

    suite, source = load_suite(str(_suite(write_suite)))
    written = written_sections(suite)
    runs = {r.label: r for r in resolve_runs(suite, source) if r.seed == 0}
    assert config_deviations(runs["New loss"].config, written, label="New loss") == []
    assert config_deviations(runs["Triplet"].config, written, label="Triplet") == []
    moved = copy.deepcopy(runs["New loss"].config)
    moved["train"]["lr"] = 0.1
    (dev,) = config_deviations(moved, written, label="New loss")
    assert dev.key == "train.lr" and dev.suite_value == 5.0e-4
    # Without the label (a run placed by configuration only), the suite's train.lr is the rule.
    (dev,) = config_deviations(runs["New loss"].config, written)
    assert dev.suite_value == 1.0e-3


def test_the_report_protocol_shows_each_losss_learning_rate(write_suite, cli, tmp_path):
    suite = _suite(write_suite)
    cache = tmp_path / "cache"
    assert cli("compare", "--suite", suite, "--device", "cpu", "--cache-dir", cache, "--seed", "0").exit_code == 0
    result = cli("report", "--suite", suite, "--cache-dir", cache, "--markdown")
    assert result.exit_code == 0, result.stderr[-1500:]
    out = result.stdout
    joined = out.replace("\n  ", " ")  # the protocol's list items, each on one line
    assert "lr per loss (see Losses)" in joined and "; learning rate " in joined
    rows = {line.split("**")[1]: line for line in joined.splitlines() if line.startswith("- **") and "; seeds done" in line}
    assert "learning rate 0.002" in rows["CE"] and "learning rate 0.0005" in rows["New loss"]
    assert "learning rate 0.001" in rows["Triplet"]
    assert out.count("### Table 1 layout") == 1


def test_a_swept_loss_with_its_own_learning_rate_is_the_suite_as_written(write_suite):
    """A sweep expands one entry into settings with labels of their own (``New loss (beta=2)``);
    their learning rate is the entry's, so no row of the sweep deviates."""
    from modbench.results.deviations import config_deviations, per_loss_lr_note, written_sections
    from modbench.suite.loader import load_suite
    from modbench.suite.runs import resolve_runs

    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = [
        {"name": "cross-entropy", "label": "CE"},
        {"name": "improved", "label": "New loss", "params": {"beta": [2, 4], "gamma": 5}, "lr": 5.0e-4},
    ]
    suite, source = load_suite(str(write_suite(data, "sweep.yaml")))
    written = written_sections(suite)
    runs = resolve_runs(suite, source)
    swept = [r for r in runs if r.loss == "improved"]
    assert len({r.label for r in swept}) == 2 and all(r.label != "New loss" for r in swept)
    for run in runs:
        assert config_deviations(run.config, written, label=run.label) == [], run.label
    note = per_loss_lr_note(suite)
    assert note.count("0.0005") == 2 and "CE 0.001" in note
