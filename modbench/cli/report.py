"""``modbench report``: tables from the cache alone; never trains or evaluates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from modbench.cli.common import CacheDirOpt, CsvOpt, JsonOpt, MarkdownOpt, complete_suite, handle_errors, one_output_format, warn


@handle_errors
def report(
    suite: Annotated[Optional[list[str]], typer.Option("--suite", "-s", help="Suite(s) to report [default: every built-in suite with a cached run].", autocompletion=complete_suite)] = None,
    markdown: MarkdownOpt = False,
    json_: JsonOpt = False,
    csv: CsvOpt = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Print cached results; runs not done yet show as "—"."""
    from modbench.cache.store import RunStore, resolve_cache_root
    from modbench.cli.output import emit, render_rows
    from modbench.results.rows import rows_from_cache
    from modbench.suite.loader import builtin_suite_names, load_suite
    from modbench.suite.runs import resolve_runs

    fmt = one_output_format(markdown=markdown, json=json_, csv=csv)
    store = RunStore(resolve_cache_root(cache_dir))
    explicit = bool(suite)
    rows = []
    for ref in suite or builtin_suite_names():
        s, source = load_suite(ref)
        suite_rows = rows_from_cache(store, resolve_runs(s, source), warn=warn)
        if explicit or any(r.status != "missing" for r in suite_rows):
            rows += suite_rows
    if not rows:
        from modbench.cli.common import err

        err.print("no cached results; run `modbench compare --suite NAME` first", markup=False)
        if fmt == "json":
            emit("[]\n", output)
        return
    text = render_rows(rows, fmt)
    emit(text, output)
