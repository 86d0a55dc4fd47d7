"""Result rows as data (the JSON records) or as text (Markdown, JSON, CSV) or as tables: what
``compare``, ``eval`` and ``report`` print and what the Python API returns. Nothing is printed
here; the command line prints the Rich tables (cli/output.py).

``written`` (``results.deviations.written_suites``) maps suite names to the suite as written, so
that every format states how the rows differ from it (the rows are annotated with it, in place);
``summaries`` (``results.summary.summarize_rows``) when the caller has them already (the rows
are then taken as annotated).
"""

from __future__ import annotations

import json
from typing import Any

from modbench.render.records import json_safe, rows_csv
from modbench.results.deviations import annotate
from modbench.results.summary import summarize_rows


def _summaries(rows, *, baselines, written, summaries):
    if summaries is None:
        annotate(rows, written)
        summaries = summarize_rows(rows, baselines=baselines)
    return summaries


def result_records(rows, *, baselines=None, paper=None, written=None, summaries=None) -> list[dict[str, Any]]:
    """One dict per run, then one per loss setting aggregated over seeds (``"seed": None``; with
    ``baselines``, the difference to the baseline and Welch's t-test), then the paper's rows
    (``paper``): what ``--json`` prints, with non-finite numbers as None."""
    summaries = _summaries(rows, baselines=baselines, written=written, summaries=summaries)
    extra = [record for s in summaries for record in s.records()]
    if paper is not None:
        from modbench.results.paper import paper_records

        extra += paper_records(paper, [g for s in summaries for g in s.groups])
    return json_safe([r.record() for r in rows] + extra)


def row_tables(rows, *, extra_metrics=None, baselines=None, paper=None, written=None, summaries=None, notes=None,
               history_of=None):
    """The tables of the rows (``render.layout.TableText``), one set per suite; ``notes`` maps
    suite names to lines their tables carry first; ``history_of(run key)``, a run's epoch
    records, adds under Table 1 why a loss loses where the history shows it
    (``results/diagnosis.py``)."""
    from modbench.render.layout import summary_tables

    summaries = _summaries(rows, baselines=baselines, written=written, summaries=summaries)
    tables = []
    for s in summaries:
        diagnosis = None
        if history_of is not None:
            from modbench.results.diagnosis import diagnose

            diagnosis = diagnose(s.groups, history_of)
        tables += summary_tables(s, extra_metrics, paper=paper, notes=(notes or {}).get(s.suite), diagnosis=diagnosis)
    return tables


def rows_text(rows, fmt: str, *, extra_metrics=None, baselines=None, paper=None, written=None, summaries=None,
              notes=None, history_of=None) -> str:
    """The text of the rows in ``fmt``: "markdown", "json" or "csv"."""
    if fmt == "csv":
        if summaries is None:
            annotate(rows, written)
        metrics: list[str] = []
        for r in rows:
            metrics += [m for m in r.metrics if m not in metrics]
        return rows_csv(rows, metrics)
    if fmt == "json":
        records = result_records(rows, baselines=baselines, paper=paper, written=written, summaries=summaries)
        return json.dumps(records, indent=2, allow_nan=False) + "\n"
    if fmt == "markdown":
        from modbench.render.markdown import tables_markdown

        return tables_markdown(row_tables(rows, extra_metrics=extra_metrics, baselines=baselines, paper=paper,
                                          written=written, summaries=summaries, notes=notes, history_of=history_of))
    raise ValueError(f"unknown format {fmt!r}")
