"""Run keys and "the same configuration, X aside": the rules by which runs are named and compared.

``config_key`` names a run (its cache folder) by the hash of its configuration's canonical JSON;
``configuration_key`` is the one rule by which two configurations are compared with some settings
left out (a table row over seeds; a suite's run over the command-line overrides). Torch-free and
light: the cached answer and the reports import it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from modbench.canonical import canonical_json


def config_key(config: dict[str, Any]) -> str:
    """The run key: the first 20 hex digits of the sha256 of the configuration's canonical JSON."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:20]


# The settings of a run's configuration that the command line overrides (--epochs, --subset,
# --test-subset, --threads, --precision) and the digest of the data files read (another data
# folder, or data changed since): a cached run that differs from a suite's run in these only is
# still that suite's run, shown with its difference stated (``report``, ``cache list``).
OVERRIDABLE = ("train.epochs", "dataset.subset", "dataset.test_subset", "train.cpu_threads", "train.precision",
               "dataset.files_digest")
# What ``configuration_key`` leaves out for each question it answers.
ACROSS_SEEDS = ("seed",)  # one table row: a configuration over its seeds
# one loss setting of a suite: its runs over seeds, overrides and the code that trained them (a run
# of older code or other package versions still belongs to its suite, as a row of its own)
ACROSS_OVERRIDES = ("seed", "code", *OVERRIDABLE)


def configuration_key(config: dict[str, Any], without: tuple[str, ...] = ACROSS_SEEDS) -> str:
    """The canonical JSON of ``config`` without the settings ``without`` names (``"seed"``,
    ``"train.epochs"``: a top-level key or ``section.key``): the one rule by which runs are
    compared as "the same configuration, X aside"."""
    stripped = dict(config)
    for path in without:
        section, _, key = path.partition(".")
        if not key:
            stripped.pop(section, None)
        elif isinstance(stripped.get(section), dict):
            stripped[section] = {k: v for k, v in stripped[section].items() if k != key}
    return canonical_json(stripped)
