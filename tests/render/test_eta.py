"""The runs bar's remaining-time estimator, against hand-computed sums."""

from __future__ import annotations

import math

from modbench.render.eta import EpochTimes, PendingRun, format_duration, remaining_seconds


def test_nothing_is_guessed_before_the_first_epoch():
    assert remaining_seconds(EpochTimes(), [PendingRun("cross-entropy", "softmax", 30)]) is None
    assert remaining_seconds(EpochTimes(), []) == 0.0
    assert format_duration(None) == "-:--:--"


def test_each_loss_costs_its_own_epochs():
    times = EpochTimes()
    for s in (2.0, 4.0):  # cross-entropy: 3 s per epoch
        times.add("cross-entropy", "softmax", s)
    times.add("triplet", "embedding", 10.0)
    pending = [PendingRun("cross-entropy", "softmax", 28), PendingRun("triplet", "embedding", 30)]
    assert remaining_seconds(times, pending) == 28 * 3.0 + 30 * 10.0


def test_unseen_loss_uses_its_family_then_every_loss():
    times = EpochTimes()
    times.add("cross-entropy", "softmax", 3.0)
    times.add("triplet", "embedding", 9.0)
    # improved (softmax, not timed yet) -> cross-entropy's 3 s; margin (embedding) -> triplet's 9 s
    assert remaining_seconds(times, [PendingRun("improved", "softmax", 10), PendingRun("margin", "embedding", 10)]) == 30.0 + 90.0
    # a family never timed -> the mean over every epoch, (3 + 9) / 2
    assert remaining_seconds(times, [PendingRun("other", "new", 4)]) == 4 * 6.0


def test_issue_example_one_fast_run_does_not_hide_the_slow_ones():
    """Six runs of 30 epochs; the first (1 s/epoch) is done: the estimate counts 5 x 30 epochs,
    not 'one run per 30 s'. The third loss is slower once measured."""
    times = EpochTimes()
    for _ in range(30):
        times.add("cross-entropy", "softmax", 1.0)
    pending = [PendingRun(name, fam, 30) for name, fam in [("improved", "softmax"), ("triplet", "embedding")] * 2]
    pending.append(PendingRun("cross-entropy", "softmax", 30))
    assert remaining_seconds(times, pending) == 150.0
    times.add("triplet", "embedding", 5.0)
    assert remaining_seconds(times, pending) == 3 * 30 * 1.0 + 2 * 30 * 5.0


def test_fractional_epochs_and_bad_measurements():
    times = EpochTimes()
    times.add("a", "f", 2.0)
    times.add("a", "f", math.nan)  # ignored
    times.add("a", "f", -1.0)  # ignored
    assert remaining_seconds(times, [PendingRun("a", "f", 2.5), PendingRun("a", "f", 0)]) == 5.0
    assert format_duration(3725.4) == "1:02:05"
