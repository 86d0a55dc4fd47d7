"""Rendering result rows: Rich tables, Markdown (tabulate), CSV and JSON. Nothing is computed
here beyond formatting; the rows come from ``modbench.results``."""
