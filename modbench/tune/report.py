"""The tuning trials of a suite, for ``modbench report``: found in the cache, torch-free.

A trial's run is recognised by its configuration: the trial marker, and everything but the loss
parameters and the learning rate equal to a loss setting of the suite (the suite's first seed).
Trials are reported under their own suite heading, "<suite> — tuning trials (validation)",
because their numbers are validation metrics and must never sit in a row beside test metrics.
"""

from __future__ import annotations

import dataclasses

from modbench.suite.keys import configuration_key
from modbench.suite.runs import loss_settings_of
from modbench.tune.trials import is_trial, trial_run

TRIALS_HEADING = "{suite} — tuning trials (validation)"
# What a trial matches its loss setting across: the trial marker and the searched values.
ACROSS_SEARCH = ("tune", "loss.params", "train.lr")


def trial_runs(store, suite, source: str) -> list:
    """RunSpecs of the cached trial runs of ``suite``, labelled with their searched values."""
    bases = {}
    for setting in loss_settings_of(suite, source):
        base = trial_run(suite, source, setting, {})
        bases.setdefault(configuration_key(base.config, ACROSS_SEARCH), (setting, base))
    found = []
    for run_dir in store.all_runs():
        try:
            config = run_dir.read_config()
        except Exception:  # noqa: BLE001 - a damaged entry is the cache's to report, not ours
            continue
        if not config or not is_trial(config):
            continue
        match = bases.get(configuration_key(config, ACROSS_SEARCH))
        if match is None:
            continue
        setting, base = match
        changed = {k: v for k, v in config["loss"]["params"].items() if base.config["loss"]["params"].get(k) != v}
        if config["train"].get("lr") != base.config["train"].get("lr"):
            changed["lr"] = config["train"]["lr"]
        shown = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(changed.items()))
        found.append(dataclasses.replace(  # a run read back from the cache: named by its folder
            base, suite=TRIALS_HEADING.format(suite=suite.name), label=f"{setting.label} ({shown})" if shown else setting.label,
            config=config, key=run_dir.key, from_cache=True,
        ))
    return sorted(found, key=lambda r: (r.label, r.key))
