"""``modbench cache list|rm|du``: the cache as a thing you manage (README, "The cache").

Runs are named by their key (the folder name under ``<cache>/runs/``). A run's suite and label
are not stored in the run (the same run can belong to several suites): they are found by
matching its configuration, seed aside, against the built-in suites and any ``--suite`` given,
else from the suites the cache records as having asked for the run (``cache/suite_index.py``).
Imports no torch.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Optional

import typer
from rich.table import Table

from modbench.cli.common import CacheDirOpt, Command, Group, JsonOpt, complete_suite, err, fail, handle_errors, out

# Imports inside functions here: the command's work (the application layer modbench.bench, the
# suite loader, the cache, the results with numpy and scipy, torch) is imported when the command
# runs, so that `modbench --help` and shell completion load only Typer and Rich
# (tests/test_startup.py).

cache_app = typer.Typer(
    cls=Group,
    help="List, measure and remove cached runs (nothing here trains).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

CacheSuiteOpt = Annotated[
    Optional[list[str]],
    typer.Option("--suite", "-s", help="Only the runs of this suite (name or YAML path); repeatable. Default: every run.", autocompletion=complete_suite),
]


def _store(cache_dir):
    from modbench.cache.store import RunStore, resolve_cache_root

    return RunStore(resolve_cache_root(cache_dir))


# How `cache list` names a difference from the suite's run (suite.keys.OVERRIDABLE, imported in the
# functions: `--help` loads no suite module): the flag that makes it, or what else differs.
_DIFFERENCES = {"train.epochs": "--epochs {}", "dataset.subset": "--subset {}", "dataset.test_subset": "--test-subset {}",
                "train.cpu_threads": "--threads {}", "train.precision": "--precision {}",
                "dataset.files_digest": "other data files"}


def _overrides(config: dict) -> dict:
    """The settings of ``config`` a run shares its suite across (``suite.keys.OVERRIDABLE``)."""
    from modbench.suite.keys import OVERRIDABLE

    out = {}
    for path in OVERRIDABLE:
        section, _, key = path.partition(".")
        out[path] = (config.get(section) or {}).get(key)
    return out


def _family(config: dict) -> str:
    """The configuration without what a run shares with the suite's run it was trained for: the
    seed, the command-line overrides, the data digest and the code (``report``'s rule too)."""
    from modbench.suite.keys import ACROSS_OVERRIDES, configuration_key

    return configuration_key(config, ACROSS_OVERRIDES)


def suite_index(suite_refs: list[str] | None) -> dict[str, tuple[str, str, dict]]:
    """Configuration family (``_family``) -> (suite name, loss label, the suite's overridable
    settings), over ``suite_refs`` (default: the built-in suites). A built-in suite that does
    not load is skipped with a warning; one asked for by name is an error (exit 2)."""
    from modbench.suite.loader import builtin_suite_names, load_suite
    from modbench.suite.runs import resolve_runs

    index: dict[str, tuple[str, str]] = {}
    for ref in suite_refs or builtin_suite_names():
        if suite_refs:
            suite, source = load_suite(ref)
        else:
            try:
                suite, source = load_suite(ref)
            except Exception as exc:  # noqa: BLE001 - a broken built-in suite must not hide the cache
                from modbench.cli.common import warn

                warn(f"suite {ref}: {exc}; its runs are listed without a suite name")
                continue
        for run in resolve_runs(suite, source):
            index.setdefault(_family(run.config), (suite.name, run.label,
                                                   {**_overrides(run.config), "code": run.config.get("code")}))
    return index


def _described(store, suite_refs):
    """[(RunInfo, suite, label)] for the runs of the cache (of ``suite_refs`` only, when given)."""
    from modbench.cache.manage import list_runs
    from modbench.cache.suite_index import suites_of_runs

    index = suite_index(suite_refs)
    named = {} if suite_refs else suites_of_runs(store.root)  # the user suites that asked for runs
    rows = []
    for info in list_runs(store):
        suite, label, settings = index.get(_family(info.config), ("", "", {})) if info.config else ("", "", {})
        if suite_refs and not suite:
            continue
        if not suite and named.get(info.key):
            suites = named[info.key]
            suite = ", ".join(dict.fromkeys(name for name, _, _ in suites))
            label = ", ".join(dict.fromkeys(lb for _, lb, _ in suites))
            settings = {**_overrides(info.config), "code": info.config.get("code")}  # as asked for: nothing to name
        # the suites are read without digesting their data (no data folder here): a digest only
        # the cached run records is no difference to name
        changed = {k: v for k, v in _overrides(info.config).items() if suite and v != settings.get(k)
                   and not (k == "dataset.files_digest" and settings.get(k) is None)}
        if suite and settings and info.config.get("code") != settings.get("code"):
            changed["code"] = None
        if changed:  # trained with --epochs, --subset, ... or other code: say so beside the suite
            suite += " (" + ", ".join(_DIFFERENCES.get(k, "other code").format(v) for k, v in changed.items()) + ")"
        rows.append((info, suite, label))
    return rows


def _status(info) -> str:
    return f"{info.status} (in use)" if info.locked else info.status


@cache_app.command("list", cls=Command)
@handle_errors
def cache_list(
    suite: CacheSuiteOpt = None,
    cache_dir: CacheDirOpt = None,
    json_: JsonOpt = False,
) -> None:
    """One line per cached run: run, suite, loss, seed, status, size, date (oldest first)."""
    from modbench.cache.manage import human_bytes

    store = _store(cache_dir)
    rows = _described(store, suite)
    if json_:
        records = [
            {"run": i.key, "suite": s or None, "loss": i.loss, "label": lb or None, "seed": i.seed,
             "status": i.status, "in_use": i.locked, "bytes": i.bytes, "date": i.date.isoformat(timespec="seconds")}
            for i, s, lb in rows
        ]
        out.file.write(json.dumps(records, indent=2) + "\n")
        return
    from modbench.render.safe_text import rich_text

    total = sum(i.bytes for i, _, _ in rows)
    table = Table(title=f"{len(rows)} cached run(s) in {rich_text(store.root)}, {human_bytes(total)}", title_justify="left")
    for col, justify in (("run", "left"), ("suite", "left"), ("loss", "left"), ("seed", "right"),
                         ("status", "left"), ("size", "right"), ("date (UTC)", "left")):
        table.add_column(col, justify=justify, no_wrap=col in ("run", "date (UTC)"))
    for info, suite_name, label in rows:
        loss = label if label and label != info.loss else info.loss
        table.add_row(
            info.key, rich_text(suite_name or "-"), rich_text(loss), "-" if info.seed is None else str(info.seed),
            _status(info), human_bytes(info.bytes), info.date.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        )
    if not rows:
        err.print("no cached runs" + (" for these suites" if suite else ""), markup=False)
        return
    out.print(table)


@cache_app.command("du", cls=Command)
@handle_errors
def cache_du(
    suite: CacheSuiteOpt = None,
    cache_dir: CacheDirOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Disk use of the cache: in all, per status and per suite."""
    from modbench.cache.manage import human_bytes

    store = _store(cache_dir)
    rows = _described(store, suite)
    by_status: dict[str, list[int]] = {}
    by_suite: dict[str, list[int]] = {}
    for info, suite_name, _ in rows:
        for table, key in ((by_status, info.status), (by_suite, suite_name or "(no known suite)")):
            entry = table.setdefault(key, [0, 0])
            entry[0] += 1
            entry[1] += info.bytes
    total = sum(i.bytes for i, _, _ in rows)
    if json_:
        record = {
            "root": str(store.root), "runs": len(rows), "bytes": total,
            "by_status": {k: {"runs": n, "bytes": b} for k, (n, b) in by_status.items()},
            "by_suite": {k: {"runs": n, "bytes": b} for k, (n, b) in by_suite.items()},
        }
        out.file.write(json.dumps(record, indent=2) + "\n")
        return
    out.print(f"{human_bytes(total)} in {len(rows)} run(s) under {store.root}", markup=False, highlight=False)
    for title, table in (("status", by_status), ("suite", by_suite)):
        for key, (n, b) in sorted(table.items(), key=lambda kv: -kv[1][1]):
            out.print(f"  {title} {key}: {human_bytes(b)} in {n} run(s)", markup=False, highlight=False)


@cache_app.command("rm", cls=Command)
@handle_errors
def cache_rm(
    runs: Annotated[Optional[list[str]], typer.Argument(help="Run keys (or unique prefixes of 6+ characters) as `modbench cache list` prints them.", show_default=False)] = None,
    suite: CacheSuiteOpt = None,
    failed: Annotated[bool, typer.Option("--failed", help="Runs recorded as failed (a non-finite loss).")] = False,
    older_than: Annotated[Optional[str], typer.Option("--older-than", help="Runs finished (or last written) longer ago than this, e.g. 30d, 12h, 2w \\[default: any age].", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")] = False,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Remove cached runs: the RUNs named, or those matching every filter given. A run in use by another process (its lock is held) is never touched."""
    from modbench.cache.manage import find_runs, human_bytes, parse_age, remove_runs

    store = _store(cache_dir)
    if runs and (suite or failed or older_than):
        raise fail("cache rm: give run keys or filters (--suite, --failed, --older-than), not both")
    if not runs and not (suite or failed or older_than):
        raise fail("cache rm: say which runs: run keys, --suite S, --failed or --older-than 30d (see `modbench cache list`)")
    if runs:
        chosen = find_runs(store, runs)
    else:
        age = parse_age(older_than) if older_than else None
        now = dt.datetime.now(dt.timezone.utc)
        chosen = [
            store.run(info.key)
            for info, _, _ in _described(store, suite)
            if (not failed or info.status == "failed") and (age is None or now - info.date > age)
        ]
    if dry_run:
        from modbench.cache.manage import run_info

        size = sum(run_info(d).bytes for d in chosen)
        for d in chosen:
            out.print(d.key, markup=False, highlight=False)
        err.print(f"would remove {len(chosen)} run(s), {human_bytes(size)} (dry run: nothing removed)", markup=False)
        return
    removal = remove_runs(chosen)
    for key in removal.skipped_locked:
        err.print(f"skipped run {key}: in use by another modbench process (its lock is held)", markup=False)
    for key, why in removal.failed:  # a failure on disk: exit 1, the run named
        err.print(f"error: run {key}: {why}; it is partly removed, remove its folder {store.run(key).path} by hand",
                  markup=False, highlight=False)
    err.print(f"removed {len(removal.removed)} run(s), {human_bytes(removal.freed_bytes)} freed", markup=False)
    if removal.skipped_locked or removal.failed:
        raise typer.Exit(1)
