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
from modbench.errors import UserError
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


# What every part of a merge must share: the suite its runs come from and how it was tuned.
_SHARED_TUNED = ("source", "trials", "metric", "split", "pruner", "tuning_seeds")


def merge_tuned_suites(parts: list[tuple[str, dict[str, Any]]], order: list[str] | None = None) -> dict[str, Any]:
    """One tuned suite from tuned suites ``tune --loss`` wrote for some losses each (``parts``:
    (where it was read, its data)), for example one per machine or session: their losses in
    ``order`` (labels; default: as the parts list them), their studies side by side, a fresh
    checksum. Written by hand because nothing else knows the ``tuned:`` section.

    Refused (``UserError``, naming the part): a part whose checksum does not verify its data (an
    edited claim must not become a verified one), parts of different suites or settings (the
    suite's fields, the source, trials, metric, pruner, seeds), a loss in two parts, a label of
    ``order`` no part has. Each study keeps its part's ``storage`` when the parts' differ."""
    if not parts:
        raise UserError("nothing to merge: no tuned suite given")
    for where, data in parts:
        tuned = data.get("tuned") if isinstance(data, dict) else None
        if not isinstance(tuned, dict) or tuned.get("checksum") != tuned_checksum(data):
            raise UserError(f"{where}: not a tuned suite as `modbench tune` wrote it (its tuned: checksum does not "
                            "match its data); tune that loss again")
    first_where, first = parts[0]

    def shared(data: dict[str, Any]) -> dict[str, Any]:
        rest = {k: v for k, v in data.items() if k not in ("losses", "tuned")}
        return {**rest, **{f"tuned.{k}": data["tuned"].get(k) for k in _SHARED_TUNED}}

    losses: dict[str, dict[str, Any]] = {}
    studies: dict[str, dict[str, Any]] = {}
    storages = {data["tuned"].get("storage", "") for _, data in parts}
    for where, data in parts:
        mine, theirs = shared(data), shared(first)
        if mine != theirs:
            field = next(k for k in sorted({*mine, *theirs}) if mine.get(k) != theirs.get(k))
            raise UserError(f"{where}: its {field!s} differs from {first_where}'s: only tunings of one suite with "
                            "the same settings merge")
        for loss in data["losses"]:
            label = loss.get("label") or loss["name"]
            if label in losses:
                raise UserError(f"{where}: '{label}' is tuned in two of the suites merged")
            losses[label] = loss
            study = dict(data["tuned"]["studies"].get(label, {}))
            if len(storages) > 1:
                study["storage"] = data["tuned"].get("storage", "")
            studies[label] = study
    order = list(order) if order is not None else list(losses)
    missing = [label for label in order if label not in losses]
    if missing:
        raise UserError(f"no tuned suite merged has '{missing[0]}'")
    extra = [label for label in losses if label not in order]
    if extra:
        raise UserError(f"'{extra[0]}' is tuned in a suite merged but is not one of the losses to merge")
    tuned = {k: v for k, v in first["tuned"].items() if k != "checksum"}
    tuned["storage"] = storages.pop() if len(storages) == 1 else "per study"
    tuned["studies"] = {label: studies[label] for label in order}
    # the first part's keys in its order (as `tune` writes them), its losses and tuned: replaced
    merged = {k: v for k, v in first.items() if k != "tuned"}
    merged["losses"] = [losses[label] for label in order]
    merged["tuned"] = tuned
    merged["tuned"]["checksum"] = tuned_checksum(merged)
    return merged
