"""The tuned suite ``tune`` writes: the source suite with each loss's best parameters.

It is an ordinary suite (``modbench compare --suite digits-tuned.yaml`` trains its runs on the
training split over the suite's seeds and reports test metrics), plus a ``tuned:`` section that
records where the parameters come from (source suite, trials per loss, metric, storage, each
study and its best trial). The section is not part of any run's key. Command-line overrides used
while tuning (``--epochs``, ``--subset``) are written into the suite: the final runs train as
the trials did. Imports no torch.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from modbench.cache.atomic import write_user_file
from modbench.canonical import canonical_json
from modbench.suite.tune_section import LR

TUNED_NOTE = "tuned: {trials} trials per loss on validation ({metric})"
UNVERIFIED_NOTE = (
    "tuned: NOT verified: this suite's tuned: section does not match what `modbench tune` wrote "
    "(edited, or written by hand), so its trial counts are not shown; tune the source suite again"
)


def tuned_checksum(data: dict[str, Any]) -> str:
    """sha256 of the suite file's data (as YAML loads it) without ``tuned.checksum``: ``tune``
    writes it into the ``tuned:`` section, so that an edit of the claims (trials, metric,
    studies) or of the parameters they describe is seen when the suite is used. It detects
    edits, not forgery: whoever recomputes it can write any claim."""

    copy = dict(data)
    tuned = dict(copy.get("tuned") or {})
    tuned.pop("checksum", None)
    copy["tuned"] = tuned
    return hashlib.sha256(canonical_json(copy).encode()).hexdigest()


def tuned_section_verified(source: str | Path) -> bool:
    """Whether the suite file ``source`` holds a ``tuned:`` section whose checksum matches the
    file's data (``tuned_checksum``)."""
    try:
        data = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    if not isinstance(data, dict) or not isinstance(data.get("tuned"), dict):
        return False
    return data["tuned"].get("checksum") == tuned_checksum(data)


def tuned_note(tuned, source: str | Path) -> str:
    """The line the tables of a tuned suite carry (``tuned``: the suite's ``TunedInfo``;
    ``source``: its file): the claims when the checksum verifies them, else ``UNVERIFIED_NOTE``."""
    if not tuned_section_verified(source):
        return UNVERIFIED_NOTE
    return TUNED_NOTE.format(trials=tuned.trials, metric=tuned.metric)


def tuned_suite_data(
    raw: dict[str, Any],
    suite,
    results: list[tuple[Any, dict[str, Any]]],
    *,
    source: str,
    trials: int,
    metric: str,
    storage: str,
    pruner: str,
    seeds: list[int] | None = None,
    tuning_seeds: list[int] | None = None,
) -> dict[str, Any]:
    """``raw`` (the source suite as read) with ``suite``'s overrides, one loss entry per tuned
    setting (``results``: (Target, best_of summary)), and the ``tuned:`` section."""
    data = dict(raw)
    data["name"] = f"{suite.name}-tuned"[:100]
    note = TUNED_NOTE.format(trials=trials, metric=metric)
    data["description"] = f"{note}. {suite.description}".strip()[:2000]
    data["train"] = {**raw.get("train", {}), "epochs": suite.train.epochs}
    dataset = dict(raw.get("dataset", {}))
    if suite.dataset.subset is not None:
        dataset["subset"] = suite.dataset.subset
    data["dataset"] = dataset
    data["seeds"] = list(suite.seeds if seeds is None else seeds)  # none a trial trained on (reselect.final_seeds)
    losses, studies = [], {}
    for target, best in results:
        setting = target.setting
        params = dict(setting.params)
        lr = setting.lr
        found = best.get("params")
        if found:
            params.update({k: v for k, v in found.items() if k != LR})
            lr = found.get(LR, lr)
        entry: dict[str, Any] = {"name": setting.name, "label": setting.label, "params": params}
        if lr is not None:
            entry["lr"] = float(lr)
        if setting.optimizer is not None:
            entry["optimizer"] = setting.optimizer
        losses.append(entry)
        studies[setting.label] = {
            "study": best["study"],
            "counted_trials": best["trials"],
            "complete": best["complete"],
            "pruned": best["pruned"],
            "failed": best["failed"],
            "best_trial": best.get("best_trial"),
            "best_value": best.get("best_value"),
            "searched": sorted(target.space),
            "kept_suite_values": not found,  # no trial completed: the suite's values are kept
        }
        if best.get("reselection"):
            studies[setting.label]["reselection"] = best["reselection"]
    data["losses"] = losses
    data["tuned"] = {
        "source": source,
        "trials": trials,
        "metric": metric,
        "split": "validation",
        "storage": storage,
        "pruner": pruner,
        "studies": studies,
    }
    if tuning_seeds is not None:
        data["tuned"]["tuning_seeds"] = list(tuning_seeds)
    data["tuned"]["checksum"] = tuned_checksum(data)
    return data


def tuned_suite_text(path: Path, data: dict[str, Any]) -> str:
    """The tuned suite's YAML with a header saying where it came from (``path``: where it is
    written, for the command the header suggests)."""
    header = (
        f"# Written by `modbench tune` from {data['tuned']['source']}: the best parameters of each loss,\n"
        f"# {data['tuned']['trials']} trials per loss on the validation split (metric {data['tuned']['metric']}).\n"
        f"# `modbench compare --suite {path.name}` trains these on the training split over the seeds\n"
        "# and reports test metrics.\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def write_tuned_suite(path: Path, data: dict[str, Any]) -> None:
    """The tuned suite written to ``path``: a regular file atomically, a symbolic link, device
    or FIFO through (never replaced; ``write_user_file``)."""
    write_user_file(Path(path), tuned_suite_text(Path(path), data).encode())
