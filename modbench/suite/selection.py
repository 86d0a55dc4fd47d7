"""The runs a command or an API call works on: a suite loaded and checked, the overrides
(``--epochs``, ``--subset``, ``--test-subset``, ``--seed``) applied, expanded into runs and filtered by loss. Pure:
no torch, nothing printed (the suite layer; the CLI and the API both start here)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RunSelection:
    """The runs a command works on: the loaded suite (overrides applied), expanded and filtered.
    (Not to be confused with the engine's per-epoch batch plan, ``EpochPlan``.)"""

    suite: object  # Suite
    source: str
    runs: list
    eval_cfg: dict


def select_runs(suite_ref: str, *, losses=None, seeds=None, epochs=None, subset=None, test_subset=None) -> RunSelection:
    """Load and validate the suite (exit 2 on any problem), apply overrides, expand runs."""
    from modbench.suite.loader import load_suite
    from modbench.suite.runs import apply_overrides, resolve_runs

    suite, source = load_suite(suite_ref)
    suite = apply_overrides(suite, epochs=epochs, subset=subset, seeds=seeds, test_subset=test_subset)
    runs = resolve_runs(suite, source, losses=losses)
    return RunSelection(suite, source, runs, suite.eval.model_dump(mode="json"))
