"""Rendering results: Rich tables, Markdown (tabulate), CSV and JSON, PNG plots (matplotlib,
optional) and the self-contained Markdown report. Nothing is computed here beyond formatting;
the numbers come from ``modbench.results``."""
