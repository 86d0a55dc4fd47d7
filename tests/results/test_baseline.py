"""--baseline / verdict.baseline: resolving the name (the contrasts: test_verdicts_table.py)."""

from __future__ import annotations

import pytest

from modbench.errors import UserError
from modbench.results.baseline import find_baseline

SETTINGS = [("cross-entropy", "Cross-entropy"), ("improved", "New loss (beta=2)"), ("improved", "New loss (beta=4)"), ("triplet", "Triplet loss")]


def test_find_baseline_by_label_or_unique_loss_name():
    assert find_baseline(SETTINGS, "Cross-entropy") == "Cross-entropy"
    assert find_baseline(SETTINGS, "cross-entropy") == "Cross-entropy"
    assert find_baseline(SETTINGS, "triplet") == "Triplet loss"
    assert find_baseline(SETTINGS, "New loss (beta=4)") == "New loss (beta=4)"


def test_find_baseline_unknown_names_the_choices():
    with pytest.raises(UserError) as info:
        find_baseline(SETTINGS, "cross-entrpy", suite="digits")
    message = str(info.value)
    assert info.value.exit_code == 2
    assert "'cross-entrpy'" in message and "did you mean 'cross-entropy'" in message
    assert "choices:" in message and "Triplet loss" in message and "digits" in message
    assert "\n" not in message


def test_find_baseline_ambiguous_loss_name_asks_for_a_label():
    with pytest.raises(UserError) as info:
        find_baseline(SETTINGS, "improved")
    assert "New loss (beta=2), New loss (beta=4)" in str(info.value)
