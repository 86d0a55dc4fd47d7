"""Fixtures of the launch tests (defined in tests/scaling_helpers.py, shared with tests/scaling)."""

from scaling_helpers import one_thread, reference  # noqa: F401
