"""Why a loss loses: a line under the table when a run's history shows the cause (most training
samples weighted below 1e-3, or a classifier's training accuracy far below the others')."""

from __future__ import annotations

import statistics

from modbench.results.aggregate import group_rows
from modbench.results.diagnosis import diagnose

from results.factory import make_row

M = {"nmi": 0.5}


def _histories(values: dict[str, list[dict]]):
    return lambda key: values.get(key, [])


def test_most_samples_below_the_weight_threshold_is_named_with_the_doc():
    rows = [make_row("Cross-entropy", loss="cross-entropy", seed=s, metrics=M) for s in (0, 1)]
    rows += [make_row("New loss", loss="improved", seed=s, metrics=M) for s in (0, 1)]
    share = {0: 0.70, 1: 0.74}
    hist = {r.key: [{"epoch": 1, "low_weight_share": 0.1, "train_accuracy": 0.5},
                    {"epoch": 2, "low_weight_share": share[r.seed], "train_accuracy": 0.96}]
            for r in rows if r.loss == "improved"}
    hist |= {r.key: [{"epoch": 2, "train_accuracy": 0.99}] for r in rows if r.loss == "cross-entropy"}
    lines = diagnose(group_rows(rows), _histories(hist))
    assert len(lines) == 1
    expected = f"{100 * statistics.mean(share.values()):.0f}%"  # the last epoch's, mean over seeds
    assert lines[0].startswith("Why 'New loss' may score lower:") and expected in lines[0]
    assert "below 1e-3" in lines[0] and "docs/losses.md" in lines[0] and "2 seeds" in lines[0]


def test_a_classifier_far_below_the_others_is_named():
    rows = [make_row(label, loss=loss, seed=0, metrics=M) for label, loss in
            (("Cross-entropy", "cross-entropy"), ("Focal", "focal"), ("Bad", "normface"))]
    acc = {"cross-entropy": 0.99, "focal": 0.97, "normface": 0.41}
    hist = {r.key: [{"epoch": 3, "train_accuracy": acc[r.loss]}] for r in rows}
    lines = diagnose(group_rows(rows), _histories(hist))
    assert len(lines) == 1 and lines[0].startswith("Why 'Bad' may score lower:")
    assert "0.41" in lines[0] and "0.99" in lines[0] and "'Cross-entropy'" in lines[0]


def test_no_cause_no_line():
    rows = [make_row(label, loss=loss, seed=0, metrics=M) for label, loss in
            (("Cross-entropy", "cross-entropy"), ("Triplet", "triplet"))]
    hist = {rows[0].key: [{"epoch": 1, "train_accuracy": 0.95, "low_weight_share": 0.2}], rows[1].key: [{"epoch": 1}]}
    assert diagnose(group_rows(rows), _histories(hist)) == []
    assert diagnose(group_rows(rows), _histories({})) == []  # runs without a history


def test_a_small_gap_in_training_accuracy_is_no_cause():
    """0.66 against 0.78 (a short run's spread) is not 'far below'; the threshold is 0.2."""
    from modbench.results.diagnosis import ACCURACY_GAP

    rows = [make_row(label, loss=loss, seed=0, metrics=M) for label, loss in (("CE", "cross-entropy"), ("X", "focal"))]
    for gap, named in ((ACCURACY_GAP - 0.01, False), (ACCURACY_GAP + 0.01, True)):
        hist = {rows[0].key: [{"train_accuracy": 0.9}], rows[1].key: [{"train_accuracy": 0.9 - gap}]}
        assert bool(diagnose(group_rows(rows), _histories(hist))) is named
