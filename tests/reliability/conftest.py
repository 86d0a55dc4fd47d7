"""Fixtures of the reliability tests (defined in tests/subprocess_runs.py)."""

from subprocess_runs import reference  # noqa: F401
