"""Printing result rows in the chosen format (table, markdown, json, csv)."""

from __future__ import annotations

from pathlib import Path

from modbench.cli.common import out


def render_rows(
    rows,
    fmt: str,
    *,
    extra_metrics: list[str] | None = None,
    baselines: dict[str, str] | None = None,
    paper=None,
    written: dict | None = None,
    summaries=None,
    notes: dict[str, list[str]] | None = None,
    history_of=None,
) -> str | None:
    """The text for ``fmt`` (None for Rich tables, which are printed directly). ``baselines``
    maps suite names to the label of their baseline; ``paper`` adds the paper's rows;
    ``written`` (``results.deviations.written_suites``) maps suite names to the suite as
    written, so that every format states how the rows differ from it; ``summaries`` (from
    ``summarize_rows``) when the caller has them already; ``notes`` maps suite names to lines
    their tables carry first; ``history_of(run key)``, a run's epoch records, adds under Table 1
    why a loss loses where the history shows it (``results/diagnosis.py``)."""
    from modbench.render.layout import summary_tables
    from modbench.render.markdown import tables_markdown
    from modbench.render.records import rows_csv, rows_json
    from modbench.results.deviations import annotate
    from modbench.results.summary import summarize_rows

    if summaries is None:  # else the caller annotated the rows it summarised
        annotate(rows, written)
    if fmt == "csv":
        metrics = []
        for r in rows:
            metrics += [m for m in r.metrics if m not in metrics]
        return rows_csv(rows, metrics)
    if summaries is None:
        summaries = summarize_rows(rows, baselines=baselines)
    if fmt == "json":
        extra = [record for s in summaries for record in s.records()]
        if paper is not None:
            from modbench.results.paper import paper_records

            extra += paper_records(paper, [g for s in summaries for g in s.groups])
        return rows_json(rows, extra)
    tables = []
    for s in summaries:
        diagnosis = None
        if history_of is not None:
            from modbench.results.diagnosis import diagnose

            diagnosis = diagnose(s.groups, history_of)
        tables += summary_tables(s, extra_metrics, paper=paper, notes=(notes or {}).get(s.suite), diagnosis=diagnosis)
    if fmt == "markdown":
        return tables_markdown(tables)
    from modbench.render.rich_tables import print_tables

    print_tables(out, tables)
    return None


def cache_histories(cache_dir):
    """``history_of(run key)`` for ``render_rows``: a run's history.json from the cache ([] when
    it has none or it cannot be read)."""
    from modbench.cache.store import RunStore, resolve_cache_root

    store = RunStore(resolve_cache_root(cache_dir))

    def history_of(key: str) -> list:
        try:
            return store.run(key).read_history()
        except Exception:  # noqa: BLE001 - a note must never stop the tables
            return []

    return history_of


def emit(text: str | None, output: Path | None = None) -> bool:
    """Write ``text`` to ``output`` or stdout (``output`` None or ``-``); True when a file was
    written. A regular file is replaced atomically; a symbolic link, ``/dev/null`` or a FIFO is
    written through, never replaced (``cache.atomic.write_user_file``)."""
    if text is None:
        return False
    if output is not None and not is_stdout(output):
        from modbench.cache.atomic import write_user_file

        write_user_file(Path(output), text.encode())
        return True
    out.file.write(text)
    out.file.flush()
    return False


def is_stdout(output) -> bool:
    """``--output -``: standard output, as for most Unix tools."""
    return output is not None and str(output) == "-"


# --output FILE without a format flag: the format follows the file's extension.
EXTENSIONS = {".md": "markdown", ".markdown": "markdown", ".json": "json", ".csv": "csv"}
FORMAT_FLAGS = {"markdown": "--markdown", "json": "--json", "csv": "--csv"}


def output_format(chosen: str, output: Path | None) -> str:
    """The format to write: ``chosen`` (from the flags; "table" for none) or, for ``--output``
    without a flag, the one its extension names. An extension that names no text format (the
    terminal tables cannot go to a file), or another format than the flag, is a UserError."""
    from modbench.errors import UserError

    if output is None or is_stdout(output):
        return chosen
    ext = Path(output).suffix.lower()
    by_extension = EXTENSIONS.get(ext)
    if chosen == "table":
        if by_extension is None:
            raise UserError(
                f"--output {output}: cannot tell the format from {ext or 'a name without extension'!r}; "
                "name the file .md, .json or .csv, or add --markdown, --json or --csv"
            )
        return by_extension
    if by_extension is not None and by_extension != chosen:
        raise UserError(
            f"--output {output}: the extension {ext} says {FORMAT_FLAGS[by_extension][2:]} but "
            f"{FORMAT_FLAGS[chosen]} was given; use a matching extension or flag"
        )
    return chosen
