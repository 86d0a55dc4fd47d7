"""The verdict table built from per-query records: primary verdicts, secondary contrasts, records
that are missing. Records are synthetic (``factory.make_records``) with a known structure: one loss
clearly worse than the baseline, one that differs from it by far less than the margin."""

from __future__ import annotations

import numpy as np
import pytest

from modbench.cache.store import CorruptFile
from modbench.results.aggregate import group_rows
from modbench.results.summary import summarize_rows
from modbench.results.verdicts_table import VerdictSettings, build_verdicts
from results.factory import make_records, make_row

Q, CLASSES, SEEDS = 2000, 10, 4


def study(shifts: dict[str, float], seeds=SEEDS, jitter=0.02):
    """Rows and their records: per seed a shared seed effect and per query a shared difficulty
    (the blocked design), plus ``shifts[label]`` and a little per-run noise."""
    rng = np.random.default_rng(0)
    labels = np.arange(Q) % CLASSES
    difficulty = rng.normal(0.6, 0.2, Q)
    rows, records = [], {}
    for label, shift in shifts.items():
        for seed in range(seeds):
            seed_rng = np.random.default_rng(seed)
            seed_effect = seed_rng.normal(0, 0.01)
            own = np.random.default_rng([seed, len(records)]).normal(0, jitter, Q)
            ap = difficulty + seed_effect + shift + own
            loss = "cross-entropy" if label == "CE" else "improved" if label == "Paper" else "triplet"
            row = make_row(label, loss=loss, seed=seed, metrics={"map@r": float(np.clip(ap, 0, 1).mean())})
            rows.append(row)
            records[row.key] = make_records(ap, labels)
    return rows, records


def naive_delta(records, rows, label, base, metric_key="ap_r"):
    """Mean over seeds of the difference of means over queries, by a plain loop."""
    by = {(r.label, r.seed): r.key for r in rows}
    seeds = sorted({r.seed for r in rows if r.label == label} & {r.seed for r in rows if r.label == base})
    diffs = []
    for s in seeds:
        a = records[by[(label, s)]][metric_key]
        b = records[by[(base, s)]][metric_key]
        diffs.append(sum(a) / len(a) - sum(b) / len(b))
    return sum(diffs) / len(diffs)


def test_one_loss_worse_one_equivalent():
    rows, records = study({"CE": 0.0, "Paper": -0.05, "Scaled CE": 0.0})
    sv = build_verdicts(group_rows(rows), "CE", VerdictSettings(margin=0.01), records.__getitem__,
                        secondary_metrics=["recall@1", "nmi"])
    by = {v.contrast.candidate: v for v in sv.primary}
    assert by["Paper"].verdict == "worse"
    assert by["Scaled CE"].verdict == "equivalent"
    for label in ("Paper", "Scaled CE"):
        v = by[label]
        assert v.contrast.delta == pytest.approx(naive_delta(records, rows, label, "CE"), abs=1e-12)
        assert v.ci_low <= v.contrast.delta <= v.ci_high
        assert v.contrast.n_seeds == SEEDS and v.family == 2
    assert by["Paper"].ci_high < 0  # the Holm interval excludes 0
    assert -0.01 < by["Scaled CE"].tost_low and by["Scaled CE"].tost_high < 0.01
    # secondary: the other metrics, unadjusted, no verdict word
    sec = sv.secondary["Paper"]
    assert [c.metric for c in sec] == ["recall@1", "nmi"]
    assert all("unadjusted" in c.interval for c in sec if c.testable)
    (summary,) = summarize_rows(rows, records=records.__getitem__, settings={"s": VerdictSettings(baseline="CE")})
    rec = {r["label"]: r for r in summary.records()}
    assert "verdict" not in rec["CE"] and rec["CE"]["aggregate"]["is_baseline"] is True
    assert rec["Paper"]["verdict"]["verdict"] == "worse" and rec["Scaled CE"]["verdict"]["verdict"] == "equivalent"
    for field in ("delta", "ci", "p", "p_holm", "verdict", "seeds", "seeds_needed", "noise", "margin", "alpha", "rho"):
        assert field in rec["Paper"]["verdict"]
    assert rec["Paper"]["verdict"]["delta"] == pytest.approx(by["Paper"].contrast.delta)
    assert all("verdict" not in s and "unadjusted" in s["interval"] for s in rec["Paper"]["secondary"] if s["ci"])


def test_too_few_seeds_is_undecided_with_seeds_needed():
    rows, records = study({"CE": 0.0, "Close": -0.012}, seeds=2, jitter=0.05)
    sv = build_verdicts(group_rows(rows), "CE", VerdictSettings(margin=0.01), records.__getitem__)
    (v,) = sv.primary
    assert v.verdict == "undecided"
    assert v.seeds_needed is None or v.seeds_needed > 2


def test_pairs_only_the_seeds_both_finished():
    rows, records = study({"CE": 0.0, "Paper": -0.05})
    rows = [r for r in rows if not (r.label == "Paper" and r.seed == 3)]
    sv = build_verdicts(group_rows(rows), "CE", VerdictSettings(), records.__getitem__)
    assert sv.primary[0].contrast.n_seeds == SEEDS - 1
    assert sv.primary[0].contrast.delta == pytest.approx(naive_delta(records, rows, "Paper", "CE"), abs=1e-12)


def test_missing_records_are_listed_not_guessed():
    rows, records = study({"CE": 0.0, "Paper": -0.05, "Other": 0.0})
    gone = {r.key for r in rows if r.label == "Other" and r.seed == 1}

    def load(key):
        if key in gone:
            raise CorruptFile(f"/x/{key}/queries.npz", "is not recorded in result.json")
        return records[key]

    sv = build_verdicts(group_rows(rows), "CE", VerdictSettings(), load)
    assert "Other" in sv.missing and "modbench eval" in sv.missing["Other"]
    assert sv.verdict_of("Other").verdict == "undecided" and not sv.verdict_of("Other").contrast.testable
    assert sv.verdict_of("Paper").verdict == "worse"
    assert sv.family == 1  # the untestable contrast is not counted by Holm


def test_summary_baseline_order_suite_then_flag_then_first_loss():
    rows, records = study({"CE": 0.0, "Paper": -0.05, "Scaled CE": 0.0}, seeds=3)
    load = records.__getitem__
    (s,) = summarize_rows(rows, records=load)
    assert s.baseline == "CE" and "first loss" in s.verdicts.baseline_source
    (s,) = summarize_rows(rows, records=load, baseline_name="Paper")
    assert s.baseline == "Paper" and s.verdicts.baseline_source == "--baseline"
    (s,) = summarize_rows(rows, records=load, baseline_name="Paper", settings={"s": VerdictSettings(baseline="Scaled CE")})
    assert s.baseline == "Scaled CE" and "verdict.baseline" in s.verdicts.baseline_source
    records_json = s.records()
    assert {r["verdict"]["baseline"] for r in records_json if "verdict" in r} == {"Scaled CE"}


def test_a_loss_without_a_finished_seed_says_so_in_the_table():
    from modbench.render.layout import verdict_table

    rows, records = study({"CE": 0.0, "Paper": -0.05, "Broken": 0.0})
    rows = [r for r in rows if r.label != "Broken"] + [make_row("Broken", loss="triplet", seed=0, status="failed")]
    sv = build_verdicts(group_rows(rows), "CE", VerdictSettings(), records.__getitem__)
    assert "no seed finished for both" in sv.missing["Broken"]
    by = {r[0]: r for r in verdict_table(sv, "s").rows}
    assert by["Broken"][3] == "no seeds" and by["Paper"][3] == "worse"
