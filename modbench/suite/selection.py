"""The runs a command or an API call works on: a suite loaded and checked, the overrides
(``--epochs``, ``--subset``, ``--test-subset``, ``--seed``, ``--precision``) applied, expanded into runs and filtered by loss. Pure:
no torch, nothing printed (the suite layer; the CLI and the API both start here)."""

from __future__ import annotations

from dataclasses import dataclass

from modbench.suite.loader import load_suite
from modbench.suite.runs import apply_overrides, resolve_runs, with_data_digest


@dataclass
class RunSelection:
    """The runs a command works on: the loaded suite (overrides applied), expanded and filtered.
    (Not to be confused with the engine's per-epoch batch plan, ``EpochPlan``.)"""

    suite: object  # Suite
    source: str
    runs: list
    eval_cfg: dict


def select_runs(suite_ref: str, *, losses=None, seeds=None, epochs=None, subset=None, test_subset=None, threads=None,
                data_dir=None, precision=None) -> RunSelection:
    """Load and validate the suite (exit 2 on any problem), apply overrides (``precision``: ``--precision``; ``threads``:
    ``--threads``, the runs' CPU thread count), record the digest of the dataset files read
    from ``data_dir`` (``--data-dir``), expand runs."""
    suite, source = load_suite(suite_ref)
    suite = apply_overrides(suite, epochs=epochs, subset=subset, seeds=seeds, test_subset=test_subset, threads=threads,
                            precision=precision)
    suite = with_data_digest(suite, data_dir)
    runs = resolve_runs(suite, source, losses=losses)
    return RunSelection(suite, source, runs, suite.eval.model_dump(mode="json"))


def restamped(selection: RunSelection, data_dir) -> RunSelection:
    """``selection`` with the digest of the dataset files as they are now (after a download
    wrote them): each run's key follows its configuration."""
    suite = with_data_digest(selection.suite, data_dir)
    dataset = suite.dataset.model_dump(mode="json")
    runs = [run.with_config(dataset=dataset) for run in selection.runs]
    return RunSelection(suite, selection.source, runs, selection.eval_cfg)
