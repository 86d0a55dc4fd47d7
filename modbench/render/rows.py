"""Result rows as data (the JSON records) or as text (Markdown, JSON, CSV) or as tables: what
``compare``, ``eval`` and ``report`` print and what the Python API returns. Nothing is printed
here; the command line prints the Rich tables (cli/output.py).

``written`` (``results.deviations.written_suites``) maps suite names to the suite as written, so
that every format states how the rows differ from it (the rows are annotated with it, in place);
``summaries`` (``results.summary.summarize_rows``) when the caller has them already (the rows
are then taken as annotated). ``records`` (run key -> per-query records) and ``settings`` (suite
-> ``VerdictSettings``) give every format its verdict table (``results.verdicts_table``);
``decided_at`` (label -> seeds) is what ``compare --until-decided`` needed.
"""

from __future__ import annotations

import json
from typing import Any

from modbench.render.layout import summary_tables
from modbench.render.markdown import tables_markdown
from modbench.render.records import json_safe, rows_csv, verdict_csv_fields
from modbench.results.deviations import annotate
from modbench.results.diagnosis import diagnose
from modbench.results.paper import paper_records
from modbench.results.summary import summarize_rows


def _summaries(rows, *, baselines, written, summaries, records=None, settings=None):
    if summaries is None:
        annotate(rows, written)
        summaries = summarize_rows(rows, baselines=baselines, records=records, settings=settings)
    return summaries


def result_records(rows, *, baselines=None, paper=None, written=None, summaries=None, records=None,
                   settings=None) -> list[dict[str, Any]]:
    """One dict per run, then one per loss setting aggregated over seeds (``"seed": None``), each
    other loss setting with its ``"verdict"`` against the baseline and its ``"secondary"``
    contrasts, then the paper's rows (``paper``): what ``--json`` prints, with non-finite
    numbers as None."""
    summaries = _summaries(rows, baselines=baselines, written=written, summaries=summaries, records=records,
                           settings=settings)
    extra = [record for s in summaries for record in s.records()]
    if paper is not None:
        extra += paper_records(paper, [g for s in summaries for g in s.groups])
    return json_safe([r.record() for r in rows] + extra)


def row_tables(rows, *, extra_metrics=None, baselines=None, paper=None, written=None, summaries=None, notes=None,
               records=None, settings=None, decided_at=None, history_of=None):
    """The tables of the rows (``render.layout.TableText``), one set per suite, the verdict table
    first; ``notes`` maps suite names to lines their tables carry first; ``history_of(run key)``,
    a run's epoch records, adds under Table 1 why a loss loses (``results/diagnosis.py``)."""
    summaries = _summaries(rows, baselines=baselines, written=written, summaries=summaries, records=records,
                           settings=settings)
    tables = []
    for s in summaries:
        diagnosis = None
        if history_of is not None:
            diagnosis = diagnose(s.groups, history_of)
        tables += summary_tables(s, extra_metrics, paper=paper, notes=(notes or {}).get(s.suite), decided_at=decided_at,
                                 diagnosis=diagnosis)
    return tables


def verdict_columns(summaries) -> dict[str, dict]:
    """Run key -> the ``verdict.*`` columns of its CSV line (its loss setting's primary verdict)."""
    out: dict[str, dict] = {}
    for s in summaries:
        if s.verdicts is None:
            continue
        for group in s.groups:
            fields = verdict_csv_fields(s.verdicts, group.label)
            for row in group.rows:
                out[row.key] = fields
    return out


def rows_text(rows, fmt: str, *, extra_metrics=None, baselines=None, paper=None, written=None, summaries=None,
              notes=None, records=None, settings=None, decided_at=None, history_of=None) -> str:
    """The text of the rows in ``fmt``: "markdown", "json" or "csv"."""
    if fmt == "csv":
        summaries = _summaries(rows, baselines=baselines, written=written, summaries=summaries, records=records,
                               settings=settings)
        metrics: list[str] = []
        for r in rows:
            metrics += [m for m in r.metrics if m not in metrics]
        return rows_csv(rows, metrics, verdict_columns(summaries))
    if fmt == "json":
        data = result_records(rows, baselines=baselines, paper=paper, written=written, summaries=summaries,
                              records=records, settings=settings)
        return json.dumps(data, indent=2, allow_nan=False) + "\n"
    if fmt == "markdown":
        return tables_markdown(row_tables(rows, extra_metrics=extra_metrics, baselines=baselines, paper=paper,
                                          written=written, summaries=summaries, notes=notes, records=records,
                                          settings=settings, decided_at=decided_at, history_of=history_of))
    raise ValueError(f"unknown format {fmt!r}")
