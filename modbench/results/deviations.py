"""How the rows of a table differ from their suite as written: overridden settings
(``--epochs``, ``--subset``, ``--test-subset``, or a cached run trained with other values), a
test subset (a smoke run's, even where the suite writes it), and fixture data.

Every table, Markdown document, JSON object and CSV line states these, so a quick run can never
pass for a full one. A run of the suite as written, on the real data, has no deviation.

The suite as written is the suite file's ``dataset``, ``backbone`` and ``train`` sections with
defaults filled (``written_sections``); a run's resolved configuration (``config.json``) is
compared with it key by key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from modbench.errors import UserError
from modbench.suite.loader import load_suite
from modbench.suite.runs import loss_settings_of, with_data_digest

SECTIONS = ("dataset", "backbone", "train")
FIXTURE = "data.fixture"
SEED = "seed"
# Deviations of single runs that do not make a table section of their own.
ROW_ONLY = (FIXTURE, SEED)


@dataclass(frozen=True)
class Deviation:
    key: str  # "train.epochs", "dataset.subset", ..., or "data.fixture"
    value: Any  # the run's value
    suite_value: Any  # the suite's value (None where the suite does not set one)
    text: str  # one sentence for a note
    short: str  # a few words for a title, e.g. "epochs 2"

    def record(self) -> dict[str, Any]:
        """The JSON object of this deviation."""
        return {"key": self.key, "value": self.value, "suite": self.suite_value, "note": self.text}


LOSS_LR = "loss_lr"
LOSS_OPTIMIZER = "loss_optimizer"


def written_sections(suite) -> dict[str, Any]:
    """The suite's ``dataset``, ``backbone`` and ``train`` sections and its ``seeds`` as written
    (a ``Suite``), and under ``loss_lr`` the learning rate of each loss entry that sets its own
    (``lr`` in the entry, as a tuned suite writes): for those rows that is the suite's ``train.lr``;
    likewise under ``loss_optimizer`` the optimizer of each entry that sets its own."""
    out: dict[str, Any] = {name: getattr(suite, name).model_dump(mode="json") for name in SECTIONS}
    out["seeds"] = list(suite.seeds)
    out[LOSS_LR] = {s.label: s.lr for s in loss_settings_of(suite) if s.lr is not None}
    out[LOSS_OPTIMIZER] = {s.label: s.optimizer for s in loss_settings_of(suite) if s.optimizer is not None}
    return out


def per_loss_lr_note(suite) -> str | None:
    """The sentence under the tables of a suite whose losses set their own learning rate (the
    tables show one row per loss, not its learning rate); None when none does. Suite text: the
    render layer escapes it, as every note."""
    settings = loss_settings_of(suite)
    sentences = []
    if any(s.lr is not None for s in settings):
        shown = ", ".join(f"{s.label} {(s.lr if s.lr is not None else suite.train.lr):.3g}" for s in settings)
        sentences.append(f"Learning rate per loss (as the suite writes it): {shown}.")
    if any(s.optimizer is not None for s in settings):
        shown = ", ".join(f"{s.label} {s.optimizer or suite.train.optimizer}" for s in settings)
        sentences.append(f"Optimizer per loss (as the suite writes it): {shown}.")
    return " ".join(sentences) or None


def seed_deviation(seed: int, written: dict[str, Any]) -> list[Deviation]:
    """A run of a seed the suite does not list (``--seed``, or found in the cache)."""
    seeds = written.get("seeds")
    if not isinstance(seeds, list) or seed in seeds:
        return []
    listed = ", ".join(str(s) for s in seeds)
    return [Deviation(SEED, seed, seeds, f"seed {seed} (the suite lists {listed})", f"seed {seed}")]


def written_suites(refs: Iterable, data_dir=None) -> dict[str, dict[str, Any]]:
    """Suite name -> its sections as written, for built-in suite names, YAML paths or suite dicts (loaded
    again without overrides; a suite that does not load is left out), with the digest of the data
    files found now in ``data_dir`` (``--data-dir``; computed, never written in a suite), as
    ``report`` does: runs on those files differ in nothing from the suite, runs on others say so."""
    out = {}
    for ref in refs:
        try:
            suite, _ = load_suite(ref)
        except UserError:
            continue
        out[suite.name] = written_sections(with_data_digest(suite, data_dir, absent=False))
    return out


def _flat(obj: Any, prefix: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        return {prefix: obj}
    out: dict[str, Any] = {}
    for k, v in obj.items():
        out.update(_flat(v, f"{prefix}.{k}"))
    return out


def _shown(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "not set" if value is None else str(value)


def _one(key: str, value: Any, written: Any, test_size: Any) -> Deviation:
    name = key.split(".", 1)[1]
    if key == "train.epochs":
        return Deviation(key, value, written, f"epochs {_shown(value)} (the suite says {_shown(written)})", f"epochs {_shown(value)}")
    if key == "dataset.subset":
        if value is None:
            text = f"the full training set (the suite says subset {_shown(written)})"
            return Deviation(key, value, written, text, "full data")
        suite_says = "the full training set" if written is None else f"subset {_shown(written)}"
        text = (
            f"subset: at most {_shown(value)} training images per class (the suite says {suite_says}); "
            "the test split stays whole"
        )
        return Deviation(key, value, written, text, f"subset {_shown(value)}")
    if key == TEST_SUBSET:
        return test_subset_deviation(value, written, test_size)
    return Deviation(key, value, written, f"{key} {_shown(value)} (the suite says {_shown(written)})", f"{name} {_shown(value)}")


TEST_SUBSET = "dataset.test_subset"


def test_subset_deviation(value: Any, written: Any, test_size: Any) -> Deviation:
    """A run whose test split was cut (``dataset.test_subset``, ``--test-subset``), or a run on
    the whole test split of a suite that writes a test subset."""
    if value is None:
        text = f"the whole test split (the suite says test subset {_shown(written)})"
        return Deviation(TEST_SUBSET, value, written, text, "whole test split")
    here = f"{test_size} test images" if isinstance(test_size, int) else "fewer test images"
    suite_says = "as the suite says" if value == written else (
        "the suite says the whole test split" if written is None else f"the suite says test subset {_shown(written)}")
    text = (
        f"test subset: at most {_shown(value)} test images per class, here {here} ({suite_says}); the protocol "
        "measures every number on the whole test split, and a smaller test set makes every metric noisier"
    )
    return Deviation(TEST_SUBSET, value, written, text, f"test subset {_shown(value)}")


def config_deviations(config: dict[str, Any], written: dict[str, dict[str, Any]], result: dict | None = None,
                      label: str | None = None) -> list[Deviation]:
    """How ``config`` (a run's resolved configuration) differs from the suite sections
    ``written``, in section order, then key order. ``label``: the row's loss label, whose own
    learning rate (``written["loss_lr"]``) is the suite's for that row."""
    data = (result or {}).get("data") if isinstance(result, dict) else None
    test_size = data.get("test") if isinstance(data, dict) else None
    out = []
    for section in SECTIONS:
        ours = _flat(config.get(section) or {}, section)
        theirs = _flat(written.get(section) or {}, section)
        if section == "train" and label is not None and label in (written.get(LOSS_LR) or {}):
            theirs["train.lr"] = written[LOSS_LR][label]
        if section == "train" and label is not None and label in (written.get(LOSS_OPTIMIZER) or {}):
            theirs["train.optimizer"] = written[LOSS_OPTIMIZER][label]
        for key in list(theirs) + [k for k in ours if k not in theirs]:
            if ours.get(key) != theirs.get(key):
                out.append(_one(key, ours.get(key), theirs.get(key), test_size))
            elif key == TEST_SUBSET and ours.get(key) is not None:
                # Written in the suite, still a departure from the protocol: named like an override.
                out.append(test_subset_deviation(ours[key], theirs.get(key), test_size))
    return out


def result_deviations(result: dict | None) -> list[Deviation]:
    """What a run's ``result.json`` says about its data: fixture files instead of the dataset."""
    data = result.get("data") if isinstance(result, dict) else None
    info = data.get("info") if isinstance(data, dict) else None
    if isinstance(info, dict) and info.get("fixture"):
        text = "fixture data: synthetic files in the dataset's on-disk format, not the real dataset; the numbers measure nothing"
        return [Deviation(FIXTURE, True, False, text, "fixture data")]
    return []


def annotate(rows, written: dict[str, dict[str, dict[str, Any]]] | None = None) -> list:
    """Set each row's ``deviations`` (from its suite as written where ``written`` has its suite,
    and from its result); returns ``rows``."""
    written = written or {}
    for row in rows:
        devs = []
        if row.suite in written:
            devs = (config_deviations(row.config, written[row.suite], row.result, label=row.label)
                    + seed_deviation(row.seed, written[row.suite]))
        row.deviations = devs + result_deviations(row.result)
    return rows


def signature(d: Deviation) -> tuple[str, str]:
    """What a deviation is, without its wording (which may add a test-set size)."""
    return d.key, repr(d.value)


def union(deviations: Iterable[Deviation]) -> list[Deviation]:
    """Distinct deviations (by key and value; of two wordings the longer), first-seen order."""
    seen: dict[tuple[str, str], Deviation] = {}
    for d in deviations:
        old = seen.get(signature(d))
        if old is None or len(d.text) > len(old.text):
            seen[signature(d)] = d
    return list(seen.values())


def note(deviations: list[Deviation]) -> str | None:
    """The sentence a table carries, or None for the suite as written. Extra seeds are named
    together (``seeds 1, 2 (the suite lists 0)``)."""
    if not deviations:
        return None
    texts = [d.text for d in deviations if d.key != SEED]
    seeds = [d for d in deviations if d.key == SEED]
    if seeds:
        listed = ", ".join(str(s) for s in seeds[0].suite_value)
        extra = ", ".join(str(d.value) for d in sorted(seeds, key=lambda d: d.value))
        texts.append(f"seed{'s' if len(seeds) > 1 else ''} {extra} (the suite lists {listed})")
    return "Differs from the suite as written: " + "; ".join(texts) + "."
