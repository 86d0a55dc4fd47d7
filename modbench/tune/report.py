"""The tuning trials of a suite, for ``modbench report``: found in the cache, torch-free.

A trial's run is recognised by its configuration: the trial marker, and everything but the loss
parameters and the learning rate equal to a loss setting of the suite (the suite's first seed).
Trials are reported under their own suite heading, "<suite> — tuning trials (validation)",
because their numbers are validation metrics and must never sit in a row beside test metrics.
"""

from __future__ import annotations

import copy
import dataclasses

from modbench.canonical import canonical_json
from modbench.suite.runs import expand_losses
from modbench.tune.trials import is_trial, trial_run

TRIALS_HEADING = "{suite} — tuning trials (validation)"


def _without_searched(config: dict) -> dict:
    out = copy.deepcopy(config)
    out.pop("tune", None)
    out["loss"].pop("params", None)
    out["train"].pop("lr", None)
    return out


def trial_runs(store, suite, source: str) -> list:
    """RunSpecs of the cached trial runs of ``suite``, labelled with their searched values."""
    bases = {}
    for setting in expand_losses(suite, source):
        base = trial_run(suite, source, setting, {})
        bases.setdefault(canonical_json(_without_searched(base.config)), (setting, base))
    found = []
    for run_dir in store.all_runs():
        try:
            config = run_dir.read_config()
        except Exception:  # noqa: BLE001 - a damaged entry is the cache's to report, not ours
            continue
        if not config or not is_trial(config):
            continue
        match = bases.get(canonical_json(_without_searched(config)))
        if match is None:
            continue
        setting, base = match
        changed = {k: v for k, v in config["loss"]["params"].items() if base.config["loss"]["params"].get(k) != v}
        if config["train"].get("lr") != base.config["train"].get("lr"):
            changed["lr"] = config["train"]["lr"]
        shown = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(changed.items()))
        found.append(dataclasses.replace(
            base, suite=TRIALS_HEADING.format(suite=suite.name), label=f"{setting.label} ({shown})" if shown else setting.label,
            config=config, key=run_dir.key,
        ))
    return sorted(found, key=lambda r: (r.label, r.key))
