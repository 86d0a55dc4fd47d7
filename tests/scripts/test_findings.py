"""scripts/findings.py: the published findings are worded from the verdict engine's JSON only, and
a regeneration from an empty cache reproduces every per-run value bit for bit (one thread)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load():
    spec = importlib.util.spec_from_file_location("findings_script", ROOT / "scripts" / "findings.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


findings = _load()


def _verdict(kind, **extra):
    v = {"metric": "recall@1", "baseline": "Cross-entropy", "delta": -0.0421, "ci": [-0.08, -0.004],
         "seeds": 4, "verdict": kind, "margin": 0.01, "seeds_needed": None, "reason": None}
    v.update(extra)
    return v


@pytest.mark.parametrize("kind", ["better", "worse"])
def test_a_difference_is_worded_as_the_engine_decided_it(kind):
    text = findings.verdict_sentence(_verdict(kind))
    assert f"**{kind}** than Cross-entropy on Recall@1" in text
    assert "-0.042" in text and "[-0.080, -0.004]" in text and "4 seeds" in text
    assert "equivalent" not in text and "undecided" not in text


def test_a_sequential_verdict_names_its_interval_as_the_rules():
    sequential = "compare --until-decided: O'Brien-Fleming alpha spending over the planned looks"
    text = findings.verdict_sentence(_verdict("worse", sequential=sequential))
    assert "sequential CI [-0.080, -0.004]" in text and "Holm 95%" not in text
    assert "Holm 95% CI [-0.080, -0.004]" in findings.verdict_sentence(_verdict("worse"))


def test_a_claim_is_a_sequential_study_of_its_own_against_the_rival(tmp_path):
    args = findings.parse(["--max-seeds", "5", "--step", "2", "--jobs", "2"])
    copy = tmp_path / "s-vs-triplet-loss.yaml"
    train, report = findings.claim_study(copy, "Triplet loss", ["New loss", "New loss (sigmoid reading)"],
                                         tmp_path, args)
    study = ["--suite", str(copy), "--cache-dir", str(tmp_path), "--loss", "Triplet loss", "--loss",
             "New loss", "--loss", "New loss (sigmoid reading)", "--until-decided", "--max-seeds", "5",
             "--step", "2"]
    assert train == ["compare", *study, "--threads", "1", "--device", "cpu", "--jobs", "2"]
    assert report == ["report", *study, "--json"]  # the same study's verdicts, replayed


def test_equivalence_names_its_margin_and_only_when_the_engine_found_it():
    text = findings.verdict_sentence(_verdict("equivalent", delta=0.001, ci=[-0.004, 0.006]))
    assert "**equivalent within ±0.01**" in text
    for kind in ("better", "worse", "undecided"):
        assert "equivalent" not in findings.verdict_sentence(_verdict(kind))


def test_undecided_says_what_would_decide_it():
    text = findings.verdict_sentence(_verdict("undecided", seeds_needed=11))
    assert "**undecided after 4 seeds**" in text and "about 11 seeds would decide it" in text
    assert "Neither a difference nor equivalence is shown" in text
    text = findings.verdict_sentence(_verdict("undecided", reason="the spread is zero"))
    assert "the spread is zero" in text


def test_conclusions_cover_every_aggregate_with_a_verdict_and_nothing_else():
    records = [
        {"label": "Cross-entropy", "seed": 0}, {"label": "Cross-entropy", "seed": None},
        {"label": "New loss", "seed": 0}, {"label": "New loss", "seed": None,
                                           "verdict": _verdict("worse")},
    ]
    stage = findings.Stage("s", "s", "t", records=records)
    lines = findings.conclusions(stage)
    assert lines == [f"- **New loss**: {findings.verdict_sentence(_verdict('worse'))}"]
    # A loss left out of the regeneration (--loss) has a verdict record with no seeds: it is
    # said to be not run, never "undecided after 0 seeds".
    records.append({"label": "N-pair", "seed": None, "verdict": _verdict("undecided", seeds=0)})
    lines = findings.conclusions(findings.Stage("s", "s", "t", records=records))
    assert lines[-1] == "- **N-pair**: not run in this regeneration; no verdict."


def test_a_claim_off_the_primary_metric_is_descriptive_and_a_missing_loss_is_not_run():
    records = [
        {"label": "New loss", "seed": None, "recall@1": 0.61, "nmi": 0.45, "f1": 0.3},
        {"label": "Triplet loss", "seed": None, "recall@1": 0.76, "nmi": 0.71, "f1": 0.55},
    ]
    against = {"Triplet loss": [{"label": "New loss", "seed": None,
                                 "verdict": _verdict("worse", baseline="Triplet loss"),
                                 "secondary": [{"metric": "nmi", "delta": -0.26, "ci": [-0.3, -0.2],
                                                "seeds": 4}]}]}
    paper = [{"loss": "improved", "values": {"recall@1": 0.8749}},
             {"loss": "triplet", "values": {"recall@1": 0.8909}}]
    rows = findings.claim_rows(findings.Stage("s", "s", "t", records=records), against, paper)
    text = "\n".join(rows)
    assert "0.8749" in text and "0.8909" in text
    r1 = next(r for r in rows if "outperformed" in r and "| New loss |" in r)
    assert "**worse** than Triplet loss on Recall@1" in r1 and "0.610 vs 0.760" in r1
    fig = next(r for r in rows if r.startswith("| Figure 9: NMI") and "| New loss |" in r)
    assert "NMI: Δ -0.260, unadjusted 95% CI [-0.300, -0.200]" in fig and "no verdict" in fig
    assert "F1 (pairs): descriptive only" in fig
    # The sigmoid reading and the margin loss were not in these records.
    assert any("| New loss (sigmoid reading) | not run |" in r for r in rows)
    assert any("margin" in r and "| not run |" in r for r in rows)


def test_the_report_title_block_is_dropped_and_headings_move_down():
    md = "# modbench report\n\nintro\n\n## suite\n\n### Table\n\n| a |\n"
    assert findings.demote(md) == "### suite\n\n#### Table\n\n| a |\n"


def _regenerate(tmp: Path, name: str, *extra: str, page: str = "findings.md",
                cache: str | None = None) -> tuple[str, list[dict]]:
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)  # the wrapper sets it
    out = tmp / name
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "findings.sh"), "--suite", "digits-verdict",
         "--max-seeds", "3", "--cache-dir", str(tmp / f"cache-{cache or name}"), "--out", str(out),
         *extra],
        env={**env, "PATH": str(Path(sys.executable).parent) + os.pathsep + env["PATH"]},
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    if page == "none":
        return proc.stderr, []
    return (out / page).read_text(), json.loads(
        (out / "findings" / "digits-verdict.json").read_text())


def _without_storage(tuned_suite: str) -> str:
    """A tuned suite's text without the lines that name its cache (the study's storage, and the
    checksum over the text): two regenerations in two caches differ there only."""
    return re.sub(r"^  (storage|checksum): .*$", "", tuned_suite, flags=re.M)


@pytest.mark.slow
def test_two_regenerations_from_empty_caches_agree_bit_for_bit(tmp_path):
    # With a small tuning, one tune process per loss, two at once (tune_jobs): every study's
    # trials run in sequence, so the second regeneration picks the same settings too.
    # The second is made in two invocations, as over two sessions: the tunings first
    # (--tune-only, kept in findings/tuning/), then the rest from an empty cache with the kept
    # tunings reused (--reuse-tuning): the same tuned suite, the same runs.
    tune = ("--trials", "4", "--reselect-top", "2", "--reselect-seeds", "1", "--jobs", "2")
    page, records = _regenerate(tmp_path, "a", *tune)
    _regenerate(tmp_path, "b", *tune, "--tune-only", page="none", cache="b-tune")
    assert sorted(f.name for f in (tmp_path / "b" / "findings" / "tuning" / "digits-verdict").iterdir()) \
        == sorted(f"{findings.slug(l)}.{x}" for l in ("Cross-entropy", "New loss", "Cross-entropy x 2")
                  for x in ("json", "yaml"))
    assert not (tmp_path / "b" / "findings.md").exists()  # tuning only: no page
    _, again = _regenerate(tmp_path, "b", *tune, "--reuse-tuning")
    tuned_page = (tmp_path / "b" / "findings-tuned.md").read_text()
    assert "reused (`--reuse-tuning`)" in tuned_page and "| New loss | " in tuned_page
    # the reused tunings and their cost rows in the suite's order (they once came in the order of
    # a set of labels, which changes with Python's string hashing from one process to the next)
    suite_order = ["Cross-entropy", "New loss", "Cross-entropy x 2"]
    table = tuned_page.split("| Tuning | Commit |")[1].split("\n\n")[0].splitlines()[2:]
    reused_rows = [line.split(" | ")[0][2:] for line in table]
    assert reused_rows == suite_order
    assert [line.split(" | ")[0][len("| Tune: "):] for line in tuned_page.splitlines()
            if line.startswith("| Tune: ")] == suite_order
    assert not (tmp_path / "cache-b" / "findings-new-loss.log").exists()  # nothing tuned again
    metrics = ["nmi", "f1", "macro_f1", "recall@1", "recall@2", "recall@4", "recall@8", "map@r"]
    runs = {(r["label"], r["seed"]): r for r in records if r["seed"] is not None}
    runs_again = {(r["label"], r["seed"]): r for r in again if r["seed"] is not None}
    assert runs.keys() == runs_again.keys() and len(runs) >= 9  # 3 losses x at least 3 seeds
    for key, run in runs.items():
        assert run["run"] and run["run"] == runs_again[key]["run"]
        assert {m: run[m] for m in metrics} == {m: runs_again[key][m] for m in metrics}
    # The page's conclusions are the JSON's verdicts, one line per contrast, nothing more.
    verdicts = {r["label"]: r["verdict"] for r in records if r["seed"] is None and r.get("verdict")}
    assert set(verdicts) == {"New loss", "Cross-entropy x 2"}
    for label, v in verdicts.items():
        assert f"- **{label}**: {findings.verdict_sentence(v)}" in page
    assert findings.cpu_model() in page and "modbench compare --suite digits-verdict" in page
    assert "#### Verdicts vs Cross-entropy" in page  # the report's own tables follow
    # the verdicts are the sequential rule's that chose the seeds, not a fixed-sample test
    assert all(v.get("sequential") and "decided_at_seeds" in v for v in verdicts.values())
    # every verdict table of a compared suite is the rule's (a report's tuning-trials section,
    # on validation, keeps its own fixed-sample table); the tuned suite has a page of its own
    # that links back
    tuned_page = (tmp_path / "a" / "findings-tuned.md").read_text()
    assert "[findings-tuned.md](findings-tuned.md)" in page and "[findings.md](findings.md)" in tuned_page
    for text in (page, tuned_page):
        tables = text.split("#### Verdicts vs ")[1:]
        assert len(tables) == 1 and "Seq. CI of Δ" in tables[0].split("\n\n", 2)[1]
    # the tuning's trials are in a cache of their own: no report lists them (as rows of their
    # own), so a page made in one sitting and one made from kept tunings say the same
    for name in ("digits-verdict.json", "digits-verdict-tuned.json"):
        listed = json.loads((tmp_path / "a" / "findings" / name).read_text())
        assert {r["label"] for r in listed} == {"Cross-entropy", "New loss", "Cross-entropy x 2"}
    for name in ("findings.md", "findings-tuned.md"):
        found = [(tmp_path / x / name).read_text().split("## How this page was made")[0] for x in "ab"]
        assert found[0] == found[1] and "## The paper's claims" in found[0]
    # --tuned-only: from the kept tunings alone, the tuned page and nothing else
    import shutil

    shutil.copytree(tmp_path / "b" / "findings" / "tuning", tmp_path / "c" / "findings" / "tuning")
    _regenerate(tmp_path, "c", *tune, "--tuned-only", "--reuse-tuning", page="none")
    assert not (tmp_path / "c" / "findings.md").exists()
    assert not (tmp_path / "c" / "findings" / "digits-verdict.json").exists()
    only = (tmp_path / "c" / "findings-tuned.md").read_text()
    assert only.split("## How this page was made")[0] == tuned_page.split("## How this page was made")[0]
    assert "reused" not in tuned_page  # every tuning ran in this invocation
    # The tuned suite: the same settings chosen, the same final runs trained.
    tuned = [(tmp_path / x / "findings" / "digits-verdict-tuned.yaml").read_text() for x in "ab"]
    assert "lr: " in tuned[0] and _without_storage(tuned[0]) == _without_storage(tuned[1])
    final = [{(r["label"], r["seed"]): (r["run"], r["recall@1"], r["nmi"])
              for r in json.loads((tmp_path / x / "findings" / "digits-verdict-tuned.json")
                                  .read_text()) if r["seed"] is not None} for x in "ab"]
    assert final[0] == final[1] and len(final[0]) >= 6
    # each loss was tuned by a process of its own, and the page lists each
    log = (tmp_path / "cache-a" / "findings-new-loss.log").read_text()
    assert "--loss 'New loss' --output" in log and "--loss Cross-entropy" not in log
    for label in ("Cross-entropy", "New loss", "Cross-entropy x 2"):
        assert f"| Tune: {label} | `modbench tune --suite digits-verdict" in tuned_page
        assert f"| Tune: {label} |" not in page
    assert "## Tables: digits-verdict, tuned (4 trials per loss on validation MAP@R" in tuned_page


def test_the_cost_table_sums_every_recorded_step():
    steps = [findings.Step("Train", ["compare", "--suite", "s"], 120.0, 90.0),
             findings.Step("Train again", ["compare", "--suite", "s"], 60.0, 30.0)]
    rows = findings.cost_table(steps)
    assert rows[-1] == "| **All** | | **3.0 min** | **2.0 min** |"
    assert "`modbench compare --suite s` | 2.0 min | 1.5 min |" in rows[2]


def test_a_claims_values_are_the_means_over_the_seeds_its_study_paired():
    # the stage's means are over every seed each loss ran (the rival 6, the reading 4); the
    # claim's study pairs the reading's 4 seeds with the rival's: the values shown are those
    records = [{"label": "New loss", "seed": None, "recall@1": 0.70, "nmi": 0.4},
               {"label": "Triplet loss", "seed": None, "recall@1": 0.80, "nmi": 0.7}]
    runs = [{"label": "New loss", "seed": s, "status": "done", "recall@1": 0.60 + s / 100, "nmi": 0.4}
            for s in range(4)]
    runs += [{"label": "Triplet loss", "seed": s, "status": "done", "recall@1": 0.80 + s / 100, "nmi": 0.7}
             for s in range(6)]
    aggregate = {"label": "New loss", "seed": None,
                 "verdict": _verdict("worse", baseline="Triplet loss", delta=-0.2)}
    rows = findings.claim_rows(findings.Stage("s", "s", "t", records=records),
                               {"Triplet loss": [*runs, aggregate]}, [])
    r1 = next(r for r in rows if "outperformed" in r and "| New loss |" in r)
    # seeds 0-3: 0.615 vs 0.815 (over all six the rival's mean would be 0.825)
    assert "Recall@1 0.615 vs 0.815 (means over the 4 seeds both ran in the claim's study)" in r1
    assert findings.paired_means([], "New loss", "Triplet loss") is None


def test_a_claim_takes_no_verdict_against_another_baseline():
    records = [{"label": "New loss", "seed": None, "recall@1": 0.61},
               {"label": "Triplet loss", "seed": None, "recall@1": 0.76}]
    # A report whose verdicts are still against the suite's own baseline (cross-entropy).
    against = {"Triplet loss": [{"label": "New loss", "seed": None, "verdict": _verdict("worse")}]}
    rows = findings.claim_rows(findings.Stage("s", "s", "t", records=records), against, [])
    r1 = next(r for r in rows if "outperformed" in r and "| New loss |" in r)
    assert "Cross-entropy" not in r1 and "no verdict" in r1


def test_the_rival_copy_of_a_suite_changes_only_its_baseline(tmp_path):
    import yaml

    source = ROOT / "suites" / "fashion-mnist-cpu.yaml"
    copy = findings.rival_suite(source, "Triplet loss", tmp_path)
    a, b = yaml.safe_load(source.read_text()), yaml.safe_load(copy.read_text())
    assert b["verdict"]["baseline"] == "Triplet loss" and a["verdict"]["baseline"] == "Cross-entropy"
    b["verdict"]["baseline"] = a["verdict"]["baseline"]
    assert a == b


def _stage(name, protocol, verdicts, baseline="Cross-entropy"):
    records = [{"label": baseline, "seed": 0, "protocol": protocol},
               {"label": baseline, "seed": None, "verdict": None}]
    for label, v in verdicts.items():
        records += [{"label": label, "seed": 0, "protocol": protocol},
                    {"label": label, "seed": None, "verdict": v}]
    return findings.Stage(name, name, f"{name}, at the suite's settings", records=records)


def test_the_protocols_are_read_side_by_side_from_each_suites_verdicts():
    closed = _stage("closed", "closed-set", {"New loss": _verdict("worse"),
                                             "Margin loss": _verdict("undecided", seeds=5)})
    disjoint = _stage("disjoint", "class-disjoint (train 3, validation 2, test 5 classes)",
                      {"New loss": _verdict("equivalent", delta=0.001), "ProxyNCA": _verdict("better"),
                       "Margin loss": _verdict("undecided", seeds=0)})
    assert closed.protocol == "closed-set" and disjoint.protocol.startswith("class-disjoint (train 3")
    rows = findings.side_by_side([closed, disjoint])
    assert rows[0] == ("| Loss | `closed`: closed-set | `disjoint`: class-disjoint (train 3, "
                       "validation 2, test 5 classes) |")
    by_label = {r.split(" | ")[0][2:]: r for r in rows[2:]}
    assert set(by_label) == {"Cross-entropy", "New loss", "Margin loss", "ProxyNCA"}
    assert by_label["Cross-entropy"] == "| Cross-entropy | baseline | baseline |"
    assert by_label["New loss"] == ("| New loss | **worse** (Δ -0.042, 4 seeds) | "
                                    "**equivalent within ±0.01** (Δ +0.001, 4 seeds) |")
    # A loss with no seed run in a suite has no verdict there; one absent from a suite says so.
    assert by_label["Margin loss"] == "| Margin loss | **undecided** (Δ -0.042, 5 seeds) | not run |"
    assert by_label["ProxyNCA"] == "| ProxyNCA | not in this suite | **better** (Δ -0.042, 4 seeds) |"


def test_the_default_regeneration_covers_the_closed_set_and_the_class_disjoint_suite():
    args = findings.parse([])
    assert args.suites == ["fashion-mnist-cpu", "fashion-mnist-disjoint"]
    assert args.suite == "fashion-mnist-cpu"  # the claims are checked on the closed-set suite
    assert findings.parse(["--suite", "digits-verdict"]).suites == ["digits-verdict"]


def test_each_loss_is_tuned_by_one_command_of_its_own(tmp_path):
    tune = ["tune", "--suite", "s", "--trials", "30"]
    jobs = findings.tune_jobs(["New loss", "Cross-entropy x e^10 (control)"], tune, tmp_path)
    assert [name for name, _ in jobs] == ["New loss", "Cross-entropy x e^10 (control)"]
    assert jobs[0][1] == [*tune, "--loss", "New loss", "--output", str(tmp_path / "new-loss.yaml")]
    assert jobs[1][1][-3:] == ["Cross-entropy x e^10 (control)", "--output",
                               str(tmp_path / "cross-entropy-x-e-10-control.yaml")]


def test_the_suite_labels_are_read_in_order_names_where_unlabelled(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text("losses:\n  - name: improved\n    label: New loss\n  - name: triplet\n")
    assert findings.suite_labels(suite) == ["New loss", "triplet"]
    # an unlabelled loss whose name another loss shares: `tune --loss cross-entropy` would pick
    # both, and two tune processes would share the second one's study
    suite.write_text("losses:\n  - name: cross-entropy\n  - name: cross-entropy\n"
                     "    label: CE x 2\n")
    with pytest.raises(SystemExit, match="picks 2 losses"):
        findings.suite_labels(suite)
    labels = findings.suite_labels(ROOT / "suites" / "fashion-mnist-cpu.yaml")
    assert len(labels) == len(set(labels)) == 11 and labels[1] == "Cross-entropy"


def test_commands_run_side_by_side_count_their_pools_wall_time_and_every_cpu_second():
    steps = [findings.Step("Train", ["compare"], 60.0, 50.0),
             findings.Step("Tune: a", ["tune", "--loss", "a"], 300.0, 290.0, group="Tune @ t",
                           group_end_s=300.0),
             findings.Step("Tune: b", ["tune", "--loss", "b"], 540.0, 530.0, group="Tune @ t",
                           group_end_s=540.0),
             findings.Step("Tune: c", ["tune", "--loss", "c"], 360.0, 350.0, group="Tune @ t",
                           group_end_s=660.0),  # started when a ended
             findings.Step("Tune: a", ["tune", "--loss", "a"], 120.0, 100.0, group="Tune @ later",
                           group_end_s=120.0)]
    rows = findings.cost_table(steps)
    # wall: 1 + 11 (the first pool's last end) + 2 minutes; CPU: every step's
    assert rows[-1] == "| **All** | | **14.0 min** | **22.0 min** |"
    assert "| Tune: c | `modbench tune --loss c` | 6.0 min | 5.8 min |" in rows


def _stand_in(monkeypatch):
    # A stand-in for modbench: a Python one-liner that burns a little CPU and exits with the code
    # it is given (its "arguments" are the command's).
    burn = ("import sys\nx = 0\nfor i in range(300000): x += i\n"
            "sys.exit(int(sys.argv[1]))")
    monkeypatch.setattr(findings, "modbench_argv", lambda: [sys.executable, "-c", burn])


def test_a_pool_runs_every_command_once_and_records_each(tmp_path, monkeypatch):
    _stand_in(monkeypatch)
    log = tmp_path / "findings.log"
    steps = findings.run_pool("Tune", [("a", ["0"]), ("b b", ["0"]), ("c", ["0"])], log, 2)
    assert sorted(s.title for s in steps) == ["Tune: a", "Tune: b b", "Tune: c"]
    assert all(s.returncode == 0 and s.cpu_s > 0 and 0 < s.wall_s <= s.group_end_s for s in steps)
    assert len({s.group for s in steps}) == 1 and steps[0].group.startswith("Tune @ ")
    recorded = [json.loads(l) for l in (tmp_path / findings.STEPS_FILE).read_text().splitlines()]
    assert sorted(r["title"] for r in recorded) == ["Tune: a", "Tune: b b", "Tune: c"]
    assert all(r["group"] == steps[0].group and r["group_end_s"] > 0 for r in recorded)
    assert sorted(f.name for f in tmp_path.glob("findings-*.log")) == [
        "findings-a.log", "findings-b-b.log", "findings-c.log"]


def test_after_a_failure_a_pool_starts_nothing_more_and_exits(tmp_path, monkeypatch):
    _stand_in(monkeypatch)
    log = tmp_path / "findings.log"
    with pytest.raises(SystemExit, match="exited with 3"):
        findings.run_pool("Tune", [("a", ["3"]), ("b", ["0"]), ("c", ["0"])], log, 1)
    recorded = [json.loads(l) for l in (tmp_path / findings.STEPS_FILE).read_text().splitlines()]
    assert [r["title"] for r in recorded] == ["Tune: a"]  # its time counts; b and c never ran


def test_the_claims_are_checked_on_the_first_suite_and_its_tuned_version_only():
    args = findings.parse(["--trials", "30"])
    stages = [findings.Stage(n, n, n) for n in
              ("fashion-mnist-cpu", "fashion-mnist-cpu-tuned", "fashion-mnist-disjoint")]
    assert [s.name for s in findings.claim_stages(stages, args)] == [
        "fashion-mnist-cpu", "fashion-mnist-cpu-tuned"]
    assert "30 trials per loss on validation MAP@R" in findings.tuned_title(args)


def _kept_tuning(tmp_path, monkeypatch, cli):
    """A tiny suite's 'New loss' tuned (its one trial told by hand: nothing trains) and kept by
    keep_tuning as a findings regeneration keeps it; the args that would reuse it."""
    sys.path.insert(0, str(ROOT / "tests" / "tune"))
    from tune_helpers import tiny_suite

    from modbench.tune import session as tune_session

    monkeypatch.chdir(tmp_path)
    suite = tiny_suite(tmp_path / "tiny.yaml", epochs=1)
    cache, scratch, out = tmp_path / "cache", tmp_path / "scratch", tmp_path / "docs"
    scratch.mkdir()
    spec = tune_session.TuneSpec(suite_ref=str(suite), losses=("New loss",), trials=1, pruner="none",
                                 cache_root=str(cache), device="cpu")
    session = tune_session.open_session(spec)
    study = session.study(session.targets[0])
    study.tell(study.ask(), 0.5)
    argv = ["tune", "--suite", str(suite), "--cache-dir", str(cache), "--device", "cpu", "--trials", "1",
            "--pruner", "none", "--reselect-top", "0", "--loss", "New loss",
            "--output", str(scratch / "new-loss.yaml")]
    assert cli(*argv).exit_code == 0
    facts = {"cpu_model": "CPU A", "cpu_id": "cpu family 25, model 17, stepping 1", "cpu_capability": "AVX512",
             "logical_cpus": 2, "python": "3", "torch": "2.0", "os": "x",
             "commit": "abc"}
    step = findings.Step("Tune: New loss", argv, 60.0, 50.0, group="Tune @ t", group_end_s=60.0,
                         page="tune", name="New loss")
    findings.keep_tuning(step, scratch, out, str(suite), facts)
    args = findings.parse(["--suite", str(suite), "--trials", "1", "--reselect-top", "0",
                           "--reuse-tuning"])
    return args, out, cache, facts


def test_a_kept_tuning_is_reused_only_where_this_checkout_would_make_it_again(cli, tmp_path, monkeypatch):
    args, out, cache, facts = _kept_tuning(tmp_path, monkeypatch, cli)
    tuned, rec = findings.tuning_files(out, args.suite, "New loss")
    assert tuned.is_file() and findings.kept_tuning(out, args.suite, "New loss")["machine"] == facts
    assert findings.stale_tuning(args, "New loss", out, cache, facts) is None
    # another machine kind: the trials could score, and so choose, differently
    assert "cpu_model 'CPU A', this machine has 'CPU B'" in findings.stale_tuning(
        args, "New loss", out, cache, {**facts, "cpu_model": "CPU B"})
    assert "torch" in findings.stale_tuning(args, "New loss", out, cache, {**facts, "torch": "2.1"})
    # "AMD EPYC" names CPUs of several generations: the family/model and the vector units count
    assert "cpu_capability 'AVX512', this machine has 'AVX2'" in findings.stale_tuning(
        args, "New loss", out, cache, {**facts, "cpu_capability": "AVX2"})
    assert "cpu_id" in findings.stale_tuning(args, "New loss", out, cache, {**facts, "cpu_id": "cpu family 23"})
    # another budget or re-selection
    more = findings.parse(["--suite", args.suite, "--trials", "30", "--reselect-top", "0"])
    assert "it ran 1 trials, not 30" in findings.stale_tuning(more, "New loss", out, cache, facts)
    resel = findings.parse(["--suite", args.suite, "--trials", "1"])
    assert "re-selection" in findings.stale_tuning(resel, "New loss", out, cache, facts)
    # other code or data name another study
    monkeypatch.setattr(findings, "current_study", lambda *a: "tiny | New loss | map@r | 000 | pruner none")
    assert "its study is not the one" in findings.stale_tuning(args, "New loss", out, cache, facts)
    monkeypatch.undo()
    # an edited file, or none
    tuned.write_text(tuned.read_text().replace("trials: 1", "trials: 2"))
    assert "checksum" in findings.stale_tuning(args, "New loss", out, cache, facts)
    assert findings.stale_tuning(args, "CE", out, cache, facts) == "none is kept"


def test_the_split_regeneration_options_need_a_tuning():
    for flag in ("--tune-only", "--tuned-only", "--reuse-tuning"):
        with pytest.raises(SystemExit):
            findings.parse([flag])
    with pytest.raises(SystemExit):
        findings.parse(["--trials", "3", "--tune-only", "--tuned-only"])
    args = findings.parse(["--trials", "3", "--tuned-only", "--reuse-tuning"])
    assert args.tuned_only and args.reuse_tuning and not args.tune_only


def test_a_pool_hands_each_finished_command_to_its_keeper(tmp_path, monkeypatch):
    _stand_in(monkeypatch)
    kept = []
    with pytest.raises(SystemExit):
        findings.run_pool("Tune", [("a", ["0"]), ("b", ["4"])], tmp_path / "findings.log", 1,
                          page="tune", on_done=kept.append)
    assert [(s.name, s.page) for s in kept] == [("a", "tune")]  # the failed one is not kept


def test_the_machine_is_named_down_to_its_vector_units():
    facts = findings.machine_facts()
    import torch

    assert facts["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file() and "cpu family" in cpuinfo.read_text():
        family = next(l.split(":")[1].strip() for l in cpuinfo.read_text().splitlines() if l.startswith("cpu family"))
        assert facts["cpu_id"].startswith(f"cpu family {family}, model ")
    assert set(findings.MACHINE_KIND) <= set(findings.MACHINE_KEYS) <= set(facts)


@pytest.mark.parametrize("key, other", [("cpu_model", "CPU B"), ("cpu_id", "cpu family 23"),
                                        ("cpu_capability", "AVX2"), ("torch", "2.1")])
def test_a_regeneration_resumes_only_on_the_kind_of_machine_that_began_it(tmp_path, key, other):
    """A run's key does not name the CPU: resumed on another kind, a page would mix two
    machines' bits. The cache records the kind it began on and refuses any other."""
    facts = {"cpu_model": "CPU A", "cpu_id": "cpu family 25, model 17, stepping 1",
             "cpu_capability": "AVX512", "torch": "2.0", "commit": "abc", "date": "today"}
    cache = tmp_path / "cache"
    cache.mkdir()
    assert findings.resumed_on_another_kind(cache, facts) is None  # a new cache: recorded
    (cache / "runs").mkdir()
    assert findings.resumed_on_another_kind(cache, {**facts, "commit": "def", "date": "tomorrow"}) is None
    why = findings.resumed_on_another_kind(cache, {**facts, key: other})
    assert why and f"with {key} {facts[key]!r}; this one has {other!r}" in why
    # a cache filled before the kind was recorded cannot be vouched for
    (cache / findings.KIND_FILE).unlink()
    assert "records no machine kind" in findings.resumed_on_another_kind(cache, facts)


def test_resume_on_another_kind_is_refused_in_one_line_before_anything_runs(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / findings.KIND_FILE).write_text(json.dumps(
        {"cpu_model": "a CPU no machine has", "cpu_id": "?", "cpu_capability": "?", "torch": "?"}))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "findings.py"), "--resume", "--cache-dir", str(cache),
                           "--out", str(tmp_path / "docs")], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and proc.stderr.startswith("error: --resume: ")
    assert "a CPU no machine has" in proc.stderr and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert sorted(p.name for p in cache.iterdir()) == [findings.KIND_FILE]  # nothing ran


def test_the_departures_show_each_losss_own_learning_rate_and_optimizer(tmp_path):
    """A tuned suite gives each loss its own learning rate, and the AdamW control its own
    optimizer: the table must not show the suite's one value for runs that used others."""
    import yaml

    protocol = {"epochs": 70, "lr": 1e-5, "weight_decay": 4e-4, "optimizer": "adam"}
    base = {"backbone": {"name": "small-cnn", "embedding_dim": 64}, "dataset": {"subset": 400},
            "train": {"epochs": 8, "lr": 0.001, "weight_decay": 4e-4, "optimizer": "adam", "batch_size": 80},
            "losses": [{"name": "cross-entropy"}, {"name": "improved", "label": "New loss (AdamW)",
                                                    "optimizer": "adamw"}]}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(base))
    rows = {r.split(" | ")[0].lstrip("| "): r for r in findings.departures(path, protocol)}
    assert rows["Learning rate"].endswith("| 0.001 |")
    assert "| adam (New loss (AdamW): adamw) (batch 80" in rows["Optimizer"]
    tuned = {**base, "losses": [{"name": "cross-entropy", "lr": 0.0019}, {"name": "improved", "lr": 8.1e-05}]}
    path.write_text(yaml.safe_dump(tuned))
    rows = {r.split(" | ")[0].lstrip("| "): r for r in findings.departures(path, protocol)}
    assert "| 8.1e-05 to 0.0019, per loss" in rows["Learning rate"] and "0.001 |" not in rows["Learning rate"]
    assert "| adam (batch 80" in rows["Optimizer"]


def test_the_page_gives_the_command_that_reproduces_it_not_the_resume_that_finished_it():
    """A page finished with --resume once showed `... --resume` as the command to run: on a clean
    clone that command refuses (no cache to resume). The page gives the command that starts from
    an empty cache and says that this regeneration was continued with --resume."""
    argv = ["--max-seeds", "6", "--jobs", "2", "--cache-dir", "my cache", "--resume"]
    block, ran = findings.how_it_was_made(argv, resumed=True)
    assert "bash scripts/findings.sh --max-seeds 6 --jobs 2 --cache-dir 'my cache'\n" in block
    assert "--resume\n" not in block and "--resume" in block  # named in a comment only
    assert "continued with `--resume`" in ran
    block, ran = findings.how_it_was_made(argv[:-1], resumed=False)
    assert "--resume" not in block and "continued" not in ran and "from an empty cache" in ran
