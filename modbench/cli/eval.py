"""``modbench eval``: the metrics of cached runs (trains nothing), or of a user's embeddings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from modbench.cli.common import (
    CacheDirOpt, DataDirOpt, DeviceOpt, EpochsOpt, JsonOpt, LossOpt, SeedOpt, SubsetOpt, TestSubsetOpt, ThreadsOpt, err, fail,
    handle_errors, out, plain,
)

# The command's work (the application layer, modbench.bench, and what it imports) is imported
# when the command runs, so that `modbench --help` and shell completion load only Typer and
# Rich (tests/test_startup.py).


@handle_errors
def eval_(
    suite: Annotated[Optional[str], typer.Option("--suite", "-s", help="Built-in suite name or YAML path (give this or --embeddings).", show_default=False)] = None,
    loss: LossOpt = None,
    seed: SeedOpt = None,
    epochs: EpochsOpt = None,
    subset: SubsetOpt = None,
    test_subset: TestSubsetOpt = None,
    embeddings: Annotated[Optional[Path], typer.Option("--embeddings", help="A .npz with arrays 'embeddings' (N x D) and 'labels' (N) to measure instead of a suite's runs (give this or --suite).", show_default=False)] = None,
    metrics: Annotated[Optional[str], typer.Option("--metrics", help="Comma-separated metric names, e.g. nmi,f1,recall@1 \\[default: the suite's eval.metrics; with --embeddings, the default metrics].")] = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    cache_dir: CacheDirOpt = None,
    data_dir: DataDirOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Evaluate cached runs of a suite (trains nothing), or embeddings from a file."""
    if (suite is None) == (embeddings is None):
        raise fail("give exactly one of --suite or --embeddings")
    if embeddings is not None:
        _eval_embeddings(embeddings, metrics, json_)
        return
    from modbench.bench.run import RunSettings, evaluated
    from modbench.metrics import parse_metric_names
    from modbench.cli.output import emit, render_rows
    from modbench.cli.running import console_events
    from modbench.results.deviations import written_suites  # to state the overrides on every table
    from modbench.results.rows import rows_from_outcomes
    from modbench.suite.hints import train_command
    from modbench.suite.selection import select_runs

    selection = select_runs(suite, losses=loss, seeds=seed, epochs=epochs, subset=subset, test_subset=test_subset,
                            threads=threads, data_dir=data_dir)
    if metrics:
        selection.eval_cfg["metrics"] = parse_metric_names(metrics)
    outcomes = evaluated(selection, RunSettings(cache_dir=cache_dir, device=device, data_dir=data_dir), console_events())
    emit(render_rows(rows_from_outcomes(outcomes), "json" if json_ else "table", written=written_suites([suite], data_dir)))
    missing = [o for o in outcomes if o.status == "missing"]
    for o in missing:
        command = train_command(suite, seed=o.run.seed if seed else None, epochs=epochs, subset=subset,
                                test_subset=test_subset)
        err.print(plain(f"missing: '{o.run.label}' seed {o.run.seed} (run {o.run.key}) has no result; train it with `{command}`"), markup=False, highlight=False)
    if missing or any(o.status == "failed" for o in outcomes):
        raise typer.Exit(1)


def _eval_embeddings(path: Path, metrics: str | None, as_json: bool) -> None:
    from modbench.metrics import DEFAULT_METRICS, parse_metric_names
    from modbench.metrics.compute import compute_metrics  # imports torch: not for `eval --suite` over a cache
    from modbench.render.names import metric_title
    from modbench.results.npz_input import load_embeddings_npz, load_query_mask

    names = parse_metric_names(metrics) if metrics else list(DEFAULT_METRICS)
    emb, labels = load_embeddings_npz(path)
    mask = load_query_mask(path, len(labels))  # query/gallery: queries searched among the gallery
    result = compute_metrics(emb, labels, names, strict=True, query_mask=mask)
    if as_json:
        out.file.write(json.dumps(result.values, indent=2) + "\n")
        return
    searched = (f"{int(mask.sum())} queries searched among {int((~mask).sum())} gallery embeddings"
                if mask is not None else f"{len(labels)} embeddings")
    table = Table(title=f"{path} ({searched}, backend {result.info.get('backend', '?')})", title_justify="left")
    for name in names:
        table.add_column(metric_title(name), justify="right")
    table.add_row(*[f"{result.values[n]:.4f}" for n in names])
    out.print(table)
