"""Fixtures of the scaling tests (defined in tests/scaling_helpers.py, shared with tests/launch)."""

from scaling_helpers import one_thread, reference  # noqa: F401
