"""``report`` prints, under Table 1, why a loss loses when its runs' history shows the cause."""

from __future__ import annotations

from typer.testing import CliRunner

from modbench.cache.store import RunStore
from modbench.cli.app import app
from results.factory import suite_runs, write_cached


def test_report_names_the_low_weight_share_of_improved_on_digits(tmp_path):
    store = RunStore(tmp_path / "cache")
    for run in suite_runs("digits"):
        run_dir = write_cached(store, run)
        record = {"epoch": 30, "train_loss": 0.1, "val": {}}
        if run.loss == "improved":
            record |= {"low_weight_share": 0.66, "train_accuracy": 0.68}
        elif run.loss in ("cross-entropy", "improved-sigmoid"):
            record |= {"train_accuracy": 0.99}
        run_dir.write_history([record])
    result = CliRunner().invoke(app, ["report", "--suite", "digits", "--cache-dir", str(store.root)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    table1 = out[out.index("Table 1 layout"):out.index("Table 2 layout")]
    lines = [line for line in table1.splitlines() if line.startswith("Why ")]
    assert len(lines) == 1 and lines[0].startswith("Why 'New loss' may score lower: ")
    assert "66% of the training samples" in lines[0] and "0.68" in lines[0] and "docs/losses.md" in lines[0]
    assert "Why " not in out[out.index("Table 2 layout"):]  # once, under Table 1
