"""What ``modbench report`` shows, built from the cache alone (never trains or evaluates):
every run the cache holds, unless a filter (``--suite``, ``--seed``, ``--epochs``, ``--subset``)
leaves some out, and then a line that says what it left out.

Each cached run is placed in a suite: the suites' listed runs first (as written, or with the
given overrides); then a cached run whose configuration matches a suite's loss setting in
everything but the seed, the epochs and the subset belongs to that suite (another seed, or a
``compare --epochs 2`` run: its deviation from the suite as written is then stated); any other
run (of a suite file that is not built in, say) is shown under the name and label of each suite
that the cache records as having asked for it (``cache/suite_index.py``: ``compare``, ``train``
and ``eval`` record the suite files they are given), else under "cached runs (dataset,
backbone)", labelled by its loss and parameters (or by ``result.json``'s ``suite``/``label``
keys when it records them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modbench.cache.suite_index import suites_of_runs
from modbench.canonical import canonical_json
from modbench.results.deviations import written_sections
from modbench.results.rows import ResultRow, row_for, rows_from_cache
from modbench.results.verdicts_table import VerdictSettings
from modbench.suite.loader import builtin_suite_names, load_suite
from modbench.suite.keys import ACROSS_OVERRIDES, OVERRIDABLE, configuration_key
from modbench.suite.runs import RunSpec, apply_overrides, resolve_runs, with_data_digest

OTHER = "cached runs"
# A report matches a cached run to its suite's run across the seed, the command-line overrides and
# the digest of the data files read (suite.keys.OVERRIDABLE), and the code that trained it
# (suite.keys.ACROSS_OVERRIDES); such a run is shown in its suite's table with its difference stated.


@dataclass
class ReportModel:
    rows: list[ResultRow] = field(default_factory=list)
    descriptions: dict[str, str] = field(default_factory=dict)
    written: dict[str, dict[str, Any]] = field(default_factory=dict)  # suite -> sections as written
    verdicts: dict[str, Any] = field(default_factory=dict)  # suite -> its VerdictSettings (verdict: section)
    left_out: list[str] = field(default_factory=list)  # one line per reason, for stderr
    notes: list[str] = field(default_factory=list)  # more lines for stderr (runs of other code)


def _setting_key(config: dict[str, Any]) -> str:
    """A run's configuration without what a report matches across (``ACROSS_OVERRIDES``)."""
    return configuration_key(config, ACROSS_OVERRIDES)


@dataclass
class _Cached:
    key: str
    config: dict[str, Any]
    result: dict[str, Any] | None
    failure: dict[str, Any] | None

    @property
    def status(self) -> str:
        return "done" if self.result is not None else "failed"


def _cached_runs(store) -> dict[str, _Cached]:
    """Every run of the cache with a result or a failure record, by key."""
    out = {}
    for run_dir in store.all_runs():
        config = run_dir.read_config()
        if not isinstance(config, dict) or not isinstance(config.get("seed"), int):
            continue
        result = run_dir.result_or_none()
        failure = run_dir.failure_or_none() if result is None else None
        if result is None and failure is None:
            continue
        out[run_dir.key] = _Cached(run_dir.key, config, result, failure)
    return out


def _spec(template, cached: _Cached):
    """A RunSpec for a cached run, from the suite's setting ``template`` (suite, label, loss)."""
    return dataclasses.replace(template, seed=cached.config["seed"], config=cached.config, key=cached.key,
                               from_cache=True)


def _other_specs(cached: _Cached, named: list[tuple[str, str, str | None]]):
    """The RunSpecs of a run no suite of the report lists: one per suite that the cache records
    as having asked for it (``named``: cache/suite_index.py), else one under "cached runs"."""
    cfg = cached.config
    result = cached.result or {}
    dataset = (cfg.get("dataset") or {}).get("name", "?")
    backbone = (cfg.get("backbone") or {}).get("name", "?")
    loss = (cfg.get("loss") or {}).get("name", "?")
    if named:
        return [RunSpec.cached(suite=suite, label=label, loss=loss, config=cfg, key=cached.key)
                for suite, label, _ in named]
    suite = result.get("suite") if isinstance(result.get("suite"), str) else f"{OTHER} ({dataset}, {backbone})"
    label = result.get("label") if isinstance(result.get("label"), str) else loss
    return [RunSpec.cached(suite=suite, label=label, loss=loss, config=cfg, key=cached.key)]


def _row(spec, cached: _Cached) -> ResultRow:
    return row_for(spec, cached.status, cached.result, cached.failure)


def build_report(
    store,
    suite_refs: list[str] | None = None,
    *,
    seeds: list[int] | None = None,
    epochs: int | None = None,
    subset: int | None = None,
    test_subset: int | None = None,
    warn: Callable[[str], None] | None = None,
    more_runs: Callable | None = None,
) -> ReportModel:
    """The rows of the report (see the module docstring). ``suite_refs`` None: every built-in
    suite, and every other cached run. ``more_runs(store, suite, source)`` gives RunSpecs that
    belong to a suite under a heading of their own (its tuning trials), shown after it."""
    model = ReportModel()
    explicit = bool(suite_refs)
    cached = _cached_runs(store)
    setting_of = {key: _setting_key(c.config) for key, c in cached.items()}
    placed: set[str] = set()
    other_code: set[str] = set()  # cached runs of a suite's configurations, trained by other code
    left: dict[str, set[str]] = {}  # reason -> keys of the cached runs it left out
    for ref in suite_refs or builtin_suite_names():
        suite, source = load_suite(ref)
        # As written, plus the digest of the data files found now (computed, never written in a
        # suite), so that runs on those files show no difference and runs on others do.
        model.written[suite.name] = written_sections(with_data_digest(suite, absent=False))
        model.verdicts[suite.name] = VerdictSettings.of(suite.verdict)
        overridden = with_data_digest(apply_overrides(suite, epochs=epochs, subset=subset, seeds=seeds, test_subset=test_subset), absent=False)
        runs = resolve_runs(overridden, source)
        listed = rows_from_cache(store, runs, warn=warn)
        by_setting: dict[str, Any] = {}
        for run in runs:
            by_setting.setdefault(_setting_key(run.config), run)
        listed_keys = {r.key for r in runs}
        extra: list[ResultRow] = []
        for c in cached.values():
            template = by_setting.get(setting_of[c.key])
            if template is None or c.key in listed_keys:
                continue
            reason = _filtered_out(c.config, seeds=seeds, epochs=epochs, subset=subset, test_subset=test_subset)
            if reason:
                left.setdefault(reason, set()).add(c.key)
                placed.add(c.key)
                continue
            extra.append(dataclasses.replace(_row(_spec(template, c), c), planned=False))
            if c.config.get("code") != template.config.get("code"):
                other_code.add(c.key)
        placed |= {r.key for r in listed if r.status != "missing"} | {r.key for r in extra}
        if not explicit and all(r.status == "missing" for r in listed):
            listed = []  # nothing of the suite as written ran: no table of dashes
        more: list[ResultRow] = []
        if more_runs is not None:
            more = rows_from_cache(store, more_runs(store, overridden, source), warn=warn)
            placed |= {r.key for r in more}
        if not (listed or extra or more):
            continue
        order = {(r.label, r.loss): i for i, r in enumerate(runs)}
        suite_rows = sorted(
            listed + extra,
            key=lambda r: (order.get((r.label, r.loss), len(order)), r.key not in listed_keys, _overrides(r), r.seed),
        )
        model.rows += suite_rows + more
        model.descriptions[suite.name] = suite.description
    rest = [c for key, c in cached.items() if key not in placed]
    if explicit:
        if rest:
            left["not in the suites given with --suite"] = {c.key for c in rest}
    else:
        named = suites_of_runs(store.root) if rest else {}
        others: list[ResultRow] = []
        for c in rest:
            reason = _filtered_out(c.config, seeds=seeds, epochs=epochs, subset=subset, test_subset=test_subset)
            if reason:
                left.setdefault(reason, set()).add(c.key)
            else:
                others += [_row(spec, c) for spec in _other_specs(c, named.get(c.key, []))]
        # a user's suite together, in the order of its runs' labels as recorded
        model.rows += sorted(others, key=lambda r: (r.suite.startswith(OTHER), r.suite))
    shown = {r.key for r in model.rows}
    counts = {reason: len(keys - shown) for reason, keys in left.items()}  # shown by another suite: not left out
    model.left_out = [
        f"{n} cached run{'s' if n != 1 else ''} left out: {reason}" for reason, n in counts.items() if n
    ]
    if other_code:
        n = len(other_code)
        model.notes.append(
            f"{n} cached run{'s' if n != 1 else ''} {'were' if n != 1 else 'was'} trained by other "
            "code than this modbench's (another code.digest): shown as rows of their own, "
            "labelled by that digest, never pooled or paired with this code's runs; "
            "`modbench compare` trains the suite on this code")
    return model


def _overrides(row: ResultRow) -> str:
    cfg = row.config
    return canonical_json([(cfg.get(section) or {}).get(key)
                           for section, _, key in (path.partition(".") for path in OVERRIDABLE)])


def _filtered_out(config: dict[str, Any], *, seeds, epochs, subset, test_subset=None) -> str | None:
    """Why the filters leave this cached run out, or None."""
    if seeds and config.get("seed") not in seeds:
        return f"other seeds than --seed {' --seed '.join(str(s) for s in seeds)}"
    if epochs is not None and (config.get("train") or {}).get("epochs") != epochs:
        return f"other epochs than --epochs {epochs}"
    if subset is not None and (config.get("dataset") or {}).get("subset") != subset:
        return f"another subset than --subset {subset}"
    if test_subset is not None and (config.get("dataset") or {}).get("test_subset") != test_subset:
        return f"another test subset than --test-subset {test_subset}"
    return None
