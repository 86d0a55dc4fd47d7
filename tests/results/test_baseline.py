"""--baseline: resolving the name, and every other loss compared with it."""

from __future__ import annotations

import pytest
from scipy import stats as sps

from modbench.errors import UserError
from modbench.results.aggregate import group_rows
from modbench.results.baseline import baseline_records, compare_to_baseline, find_baseline
from results.factory import make_row

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


def test_compare_to_baseline_uses_welch_on_each_metric():
    base = [0.70, 0.72, 0.71]
    other = [0.75, 0.78, 0.74]
    rows = [make_row("Base", loss="cross-entropy", seed=s, metrics={"nmi": v, "f1": v}) for s, v in enumerate(base)]
    rows += [make_row("Other", seed=s, metrics={"nmi": v, "f1": 1.0}) for s, v in enumerate(other)]
    rows += [make_row("Single", loss="improved", seed=0, metrics={"nmi": 0.9, "f1": 0.9})]
    out = compare_to_baseline(group_rows(rows), "Base", ["nmi", "f1"])
    assert [(r.label, r.metric) for r in out] == [("Other", "nmi"), ("Other", "f1"), ("Single", "nmi"), ("Single", "f1")]
    nmi = out[0].comparison
    assert nmi.p == pytest.approx(sps.ttest_ind(other, base, equal_var=False).pvalue)
    assert nmi.diff == pytest.approx(sum(other) / 3 - sum(base) / 3)
    assert out[2].comparison.testable is False and "fewer than 2 seeds" in out[2].comparison.reason
    records = baseline_records(out, "Base")
    assert records["Other"]["metrics"]["nmi"]["p"] == pytest.approx(nmi.p)
    assert records["Other"]["metrics"]["nmi"]["exceeds_noise"] is True
    assert records["Single"]["metrics"]["nmi"]["exceeds_noise"] is None
    assert records["Single"]["metrics"]["nmi"]["p"] is None
    assert records["Other"]["alpha"] == 0.05 and "Welch" in records["Other"]["test"]
