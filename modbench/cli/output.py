"""Printing result rows in the chosen format (table, markdown, json, csv)."""

from __future__ import annotations

from pathlib import Path

from modbench.cli.common import out
from modbench.errors import UserError
from modbench.render.rows import row_tables, rows_text

# Imports inside functions here: the command's work (the application layer modbench.bench, the
# suite loader, the cache, the results with numpy and scipy, torch) is imported when the command
# runs, so that `modbench --help` and shell completion load only Typer and Rich
# (tests/test_startup.py).


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
    records=None,
    settings=None,
    decided_at: dict[str, int] | None = None,
    history_of=None,
) -> str | None:
    """The text for ``fmt`` (``render.rows.rows_text``), or None for "table": the Rich tables,
    printed here. The keywords are those of ``render.rows``."""
    options = dict(extra_metrics=extra_metrics, baselines=baselines, paper=paper, written=written,
                   summaries=summaries, notes=notes, records=records, settings=settings, decided_at=decided_at, history_of=history_of)
    if fmt != "table":
        return rows_text(rows, fmt, **options)
    from modbench.render.rich_tables import print_tables

    print_tables(out, row_tables(rows, **options))
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


def require_file_name(path: Path, option: str, example: str) -> None:
    """A UserError when ``path``, given to ``option``, is an existing folder: a command writes a
    file there, and ``example`` is the name it suggests inside the folder. Checked before any work,
    so that nothing computed is lost at the end."""
    if Path(path).is_dir():
        raise UserError(f"{option} {path}: is a folder; give a file name such as {Path(path) / example}")


# --output FILE without a format flag: the format follows the file's extension.
EXTENSIONS = {".md": "markdown", ".markdown": "markdown", ".json": "json", ".csv": "csv"}
FORMAT_FLAGS = {"markdown": "--markdown", "json": "--json", "csv": "--csv"}


def output_format(chosen: str, output: Path | None) -> str:
    """The format to write: ``chosen`` (from the flags; "table" for none) or, for ``--output``
    without a flag, the one its extension names. An extension that names no text format (the
    terminal tables cannot go to a file), or another format than the flag, is a UserError."""
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
