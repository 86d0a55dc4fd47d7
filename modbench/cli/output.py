"""Printing result rows in the chosen format (table, markdown, json, csv)."""

from __future__ import annotations

from pathlib import Path

from modbench.cli.common import out


def render_rows(rows, fmt: str, *, extra_metrics: list[str] | None = None) -> str | None:
    """The text for ``fmt`` (None for Rich tables, which are printed directly)."""
    from modbench.render.layout import suite_tables
    from modbench.render.markdown import tables_markdown
    from modbench.render.records import rows_csv, rows_json
    from modbench.results.aggregate import group_rows

    if fmt == "json":
        return rows_json(rows)
    if fmt == "csv":
        metrics = []
        for r in rows:
            metrics += [m for m in r.metrics if m not in metrics]
        return rows_csv(rows, metrics)
    tables = []
    for suite in dict.fromkeys(r.suite for r in rows):
        groups = group_rows([r for r in rows if r.suite == suite])
        tables += suite_tables(groups, suite, extra_metrics)
    if fmt == "markdown":
        return tables_markdown(tables)
    from modbench.render.rich_tables import print_tables

    print_tables(out, tables)
    return None


def emit(text: str | None, output: Path | None = None) -> None:
    if text is None:
        return
    if output is not None:
        from modbench.cache.atomic import atomic_write_bytes

        atomic_write_bytes(Path(output), text.encode())
    else:
        out.file.write(text)
        out.file.flush()
