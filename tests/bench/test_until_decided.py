"""``compare --until-decided``: rounds of seeds until every primary contrast is decided.

The rounds run on the real ``digits-verdict`` suite's run specs with a fake trainer and synthetic
per-query records (one loss clearly worse than the baseline, one the same training up to tiny
noise), so the rule, the stopping, the replay from the cache and the errors are tested without
training. The acceptance run with real training is marked slow."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from modbench.cli.app import app
from modbench.bench.until_decided import decided_summaries, replay_until_decided, run_until_decided
from modbench.engine.outcome import Outcome
from modbench.results.rows import rows_from_outcomes
from modbench.results.verdicts_table import VerdictSettings
from modbench.suite.selection import select_runs
from results.factory import make_records

SUITE = "digits-verdict"
SHIFT = {"Cross-entropy": 0.0, "New loss": -0.05, "Cross-entropy x 2": 0.0}
Q = 1000


class FakeCache:
    """Trains by writing synthetic records; a key trained once is answered from the 'cache'."""

    def __init__(self):
        self.records: dict[str, dict] = {}
        self.trained: list[tuple[str, int]] = []
        labels = np.arange(Q) % 10
        self.labels = labels
        self.difficulty = np.random.default_rng(99).normal(0.6, 0.15, Q)

    def train(self, selection):
        out = []
        for run in selection.runs:
            if run.key not in self.records:
                self.trained.append((run.label, run.seed))
                seed_effect = np.random.default_rng(run.seed).normal(0, 0.02)
                own = np.random.default_rng([run.seed, list(SHIFT).index(run.label)]).normal(0, 0.03, Q)
                ap = self.difficulty + seed_effect + SHIFT[run.label] + own
                self.records[run.key] = make_records(ap, self.labels)
            out.append(Outcome(run, "cached", {"metrics": {"map@r": float(self.records[run.key]["ap_r"].mean())}}))
        return out


def rounds(cache, lines, max_seeds=6, step=1):
    selection = select_runs(SUITE)
    return run_until_decided(
        selection, reselect=lambda seeds: select_runs(SUITE, seeds=seeds), train=cache.train,
        records=cache.records.__getitem__, baseline_name=None, max_seeds=max_seeds, step=step, progress=lines.append,
    )


def test_rounds_stop_each_contrast_when_decided_and_replay_from_the_cache():
    cache, lines = FakeCache(), []
    result = rounds(cache, lines)
    verdicts = {label: v for label, v in zip(result.labels, result.decision.verdicts)}
    assert result.baseline == "Cross-entropy" and result.labels == ["New loss", "Cross-entropy x 2"]
    assert verdicts["New loss"].verdict == "worse"
    assert verdicts["Cross-entropy x 2"].verdict == "equivalent"
    assert result.decision.done and len(lines) == result.decision.look + 1
    assert all(line.startswith("until-decided: look ") for line in lines)
    # a decided contrast gets no more seeds; the baseline has as many as the last one decided
    seeds = {label: sorted(s for lab, s in cache.trained if lab == label) for label in SHIFT}
    for label in result.labels:
        assert seeds[label] == list(range(verdicts[label].seeds))
    assert len(seeds["Cross-entropy"]) == max(v.seeds for v in verdicts.values())
    # rerun (an interrupted command resumed): nothing trains again and the decisions are the same
    before, again = list(cache.trained), []
    replay = rounds(cache, again)
    assert cache.trained == before
    assert [(v.verdict, v.seeds) for v in replay.decision.verdicts] == [(v.verdict, v.seeds) for v in result.decision.verdicts]
    # the final table shows the sequential verdicts and the seeds each needed
    rows = rows_from_outcomes(result.outcomes)
    (summary,), decided_at = decided_summaries(result, rows, settings={SUITE: VerdictSettings(baseline="Cross-entropy")},
                                               records=cache.records.__getitem__)
    assert decided_at == {label: verdicts[label].seeds for label in result.labels}
    assert [v.verdict for v in summary.verdicts.primary] == ["worse", "equivalent"]
    record = next(r for r in summary.records() if r["label"] == "New loss")
    assert record["verdict"]["decided_at_seeds"] == verdicts["New loss"].seeds


def test_budget_spent_leaves_undecided_with_seeds_needed():
    cache, lines = FakeCache(), []
    result = rounds(cache, lines, max_seeds=2)  # the suite's 2 seeds: one look, no more
    assert len(lines) == 1 and result.decision.done
    assert all(v.seeds == 2 for v in result.decision.verdicts)
    assert sorted({s for _, s in cache.trained}) == [0, 1]
    # at 2 seeds the O'Brien-Fleming rule spends all of alpha at its only look: whatever it did
    # not decide stays undecided, with the seeds a power calculation says would decide it
    for v in result.decision.verdicts:
        assert v.verdict in ("better", "worse", "equivalent") or (v.seeds_needed is not None or v.reason)


def test_a_tuned_suite_adds_seeds_that_tuning_never_trained_on(tmp_path):
    """A tuned suite lists seeds no trial or re-training used (tune/reselect.py, final_seeds);
    the seeds --until-decided adds must avoid them too, or a final run repeats the very trial
    whose validation score chose its setting. Compare and replay take the same seeds."""
    from pathlib import Path

    import yaml

    from modbench.bench.until_decided import planned_seeds
    from modbench.suite.loader import load_suite

    assert planned_seeds([0, 1], 5) == [0, 1, 2, 3, 4]
    assert planned_seeds([3, 4, 5], 6, avoid=[0, 1, 2]) == [3, 4, 5, 6, 7, 8]
    assert planned_seeds([3, 7], 5, avoid=[0, 1, 2]) == [3, 7, 4, 5, 6]
    data = yaml.safe_load(Path(load_suite(SUITE)[1]).read_text())
    data.update(seeds=[3, 4], tuned={"source": SUITE, "trials": 1, "metric": "map@r", "tuning_seeds": [0, 1, 2]})
    path = tmp_path / "tuned.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    cache, lines = FakeCache(), []
    result = run_until_decided(
        select_runs(str(path)), reselect=lambda seeds: select_runs(str(path), seeds=seeds), train=cache.train,
        records=cache.records.__getitem__, baseline_name=None, max_seeds=6, step=1, progress=lines.append,
    )
    assert result.seeds == [3, 4, 5, 6, 7, 8]
    assert {s for _, s in cache.trained} <= {3, 4, 5, 6, 7, 8} and len(lines) > 1  # it did add seeds
    rows = rows_from_outcomes(result.outcomes)
    replayed = replay_until_decided(select_runs(str(path)), rows, baseline_name=None, max_seeds=6, step=1,
                                    records=cache.records.__getitem__)
    assert replayed.seeds == result.seeds and replayed.stopped is None
    assert [(v.verdict, v.seeds) for v in replayed.decision.verdicts] == [
        (v.verdict, v.seeds) for v in result.decision.verdicts]


def test_replay_from_cached_rows_gives_the_decisions_the_rounds_made():
    """report --until-decided: the rule replayed on the cached rows, with more runs in the cache
    than the looks took, decides as the rounds did, at the same seeds, and keeps only the runs the
    looks took; the summaries are the same records."""
    cache, lines = FakeCache(), []
    result = rounds(cache, lines)
    extra = cache.train(select_runs(SUITE, seeds=list(range(6))))  # every seed of every loss cached
    rows = rows_from_outcomes(extra)
    replay_lines = []
    replayed = replay_until_decided(select_runs(SUITE), rows, baseline_name=None, max_seeds=6, step=1,
                                    records=cache.records.__getitem__, progress=replay_lines.append)
    assert replay_lines == lines and replayed.stopped is None
    assert [(v.verdict, v.seeds) for v in replayed.decision.verdicts] == \
        [(v.verdict, v.seeds) for v in result.decision.verdicts]
    assert sorted(r.key for r in replayed.rows) == sorted(o.run.key for o in result.outcomes)
    assert len(rows) > len(replayed.rows)  # the seeds no look took are left out
    settings = {SUITE: VerdictSettings(baseline="Cross-entropy")}
    ours, at = decided_summaries(replayed, replayed.rows, settings=settings, records=cache.records.__getitem__)
    theirs, at_compare = decided_summaries(result, rows_from_outcomes(result.outcomes), settings=settings,
                                           records=cache.records.__getitem__)
    assert at == at_compare
    assert [s.records() for s in ours] == [s.records() for s in theirs]


def test_the_replay_takes_the_configuration_compare_trains_now():
    """Runs of the same losses in another configuration (here other epochs; after an upgrade,
    other code) are not what compare --until-decided would look at: the replay leaves them out
    and counts them, instead of refusing the suite."""
    from modbench.bench.replay import current_configuration

    cache = FakeCache()
    now = rows_from_outcomes(cache.train(select_runs(SUITE, seeds=[0, 1, 2])))
    other = rows_from_outcomes(cache.train(select_runs(SUITE, seeds=[0, 1], epochs=1)))
    assert {r.key for r in now}.isdisjoint(r.key for r in other)
    kept, left = current_configuration(select_runs(SUITE), other + now)
    assert [r.key for r in kept] == [r.key for r in now] and left == len(other) == 6
    # with the override compare was given, the other way round
    kept, left = current_configuration(select_runs(SUITE, epochs=1), now + other)
    assert [r.key for r in kept] == [r.key for r in other] and left == len(now)


def test_replay_stops_at_the_first_look_the_cache_lacks_and_says_so():
    cache, lines = FakeCache(), []
    result = rounds(cache, lines)
    last = result.decision.look  # index of the deciding look (> 0 for this study)
    assert last > 0
    n_before = result.decision.plan.seeds_at_looks[last - 1]
    rows = [r for r in rows_from_outcomes(result.outcomes) if r.seed < n_before]
    replayed = replay_until_decided(select_runs(SUITE), rows, baseline_name=None, max_seeds=6, step=1,
                                    records=cache.records.__getitem__)
    assert replayed.stopped.startswith(f"look {last + 1} (") and "the cache lacks its runs of Cross-entropy seed" in replayed.stopped
    assert not replayed.decision.done and replayed.decision.look == last - 1
    (summary,), _ = decided_summaries(replayed, replayed.rows, settings={SUITE: VerdictSettings(baseline="Cross-entropy")},
                                      records=cache.records.__getitem__)
    undecided = [v for v in summary.verdicts.primary if v.verdict == "undecided"]
    assert undecided and all("the replay stopped early" in v.reason for v in undecided)
    # nothing cached at all: no look to replay
    empty = replay_until_decided(select_runs(SUITE), [], baseline_name=None, max_seeds=6, step=1,
                                 records=cache.records.__getitem__)
    assert empty.decision is None and empty.stopped.startswith("look 1 (2 seeds) was not replayed")


@pytest.mark.parametrize("args, message", [
    (["--until-decided"], "give exactly one --suite"),
    (["--suite", SUITE, "--until-decided", "--seed", "0"], "--seed with --until-decided"),
    (["--suite", SUITE, "--max-seeds", "4"], "--max-seeds, --step and --loss work with --until-decided only"),
    (["--suite", SUITE, "--loss", "improved"], "--max-seeds, --step and --loss work with --until-decided only"),
    (["--suite", SUITE, "--until-decided", "--max-seeds", "1"], "--max-seeds 1 is below the 2 seeds"),
    (["--suite", SUITE, "--until-decided"], "nothing to replay for digits-verdict: look 1 (2 seeds) was not replayed"),
])
def test_report_until_decided_errors_are_one_line_exit_2(tmp_path, args, message):
    result = CliRunner().invoke(app, ["report", "--cache-dir", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stderr.strip().count("\n") == 0, result.stderr


@pytest.mark.parametrize("kwargs, message", [
    (dict(until_decided=True), "give exactly one suite"),
    (dict(suite=SUITE, max_seeds=4), "work with until_decided=True only"),
    (dict(suite=SUITE, until_decided=True, seeds=[0]), "seeds with until_decided"),
    (dict(suite=SUITE, until_decided=True, max_seeds=1), "--max-seeds 1 is below the 2 seeds"),
    (dict(suite=SUITE, until_decided=True), "nothing to replay for digits-verdict"),
])
def test_the_api_report_until_decided_refuses_what_the_command_refuses(tmp_path, kwargs, message):
    import modbench
    from modbench.errors import UserError

    with pytest.raises(UserError, match=message):
        modbench.report(cache_dir=tmp_path, **kwargs)


@pytest.mark.parametrize("args, message", [
    (["--until-decided", "--max-seeds", "1"], "--max-seeds 1 is below the 2 seeds"),
    (["--max-seeds", "4"], "work with --until-decided only"),
    (["--step", "2"], "work with --until-decided only"),
    (["--until-decided", "--loss", "improved"], "a verdict needs a baseline and at least one other loss"),
    (["--until-decided", "--force"], "--force with --until-decided"),
])
def test_errors_are_one_line_exit_2_before_training(tmp_path, args, message):
    result = CliRunner().invoke(app, ["compare", "--suite", SUITE, "--device", "cpu", "--cache-dir", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stderr.strip().count("\n") == 0
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.slow
def test_acceptance_digits_verdict_until_decided(tmp_path):
    """The documented acceptance run (README, docs/reporting.md): with real training, the paper's
    loss ends "worse" than cross-entropy and cross-entropy at twice the scale "equivalent"."""
    result = CliRunner().invoke(app, ["compare", "--suite", SUITE, "--until-decided", "--max-seeds", "6",
                                      "--device", "cpu", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    block = result.stdout.split("Verdicts vs Cross-entropy — digits-verdict", 1)[1].split("└", 1)[0]
    rows = {r.split("│")[1].strip(): [c.strip() for c in r.split("│")[2:-1]] for r in block.splitlines() if r.startswith("│")}
    assert rows["New loss"][2] == "worse"
    assert rows["Cross-entropy x 2"][2] == "equivalent ±0.01"
    assert all(2 <= int(r[3]) <= 6 for r in rows.values())  # the seeds each needed
    assert "until-decided: look 1 of at most 5, 2 seeds" in result.stderr
    # report --until-decided replays the same decisions from the cache: its JSON is compare's;
    # the plain report tests the final seeds as a fixed sample, which gives other intervals
    runner = CliRunner()
    cached = ["--suite", SUITE, "--cache-dir", str(tmp_path), "--json"]
    compared = runner.invoke(app, ["compare", *cached, "--until-decided", "--max-seeds", "6", "--device", "cpu"])
    # a run of another configuration in the same cache (fewer epochs) is left out, and said so
    other = runner.invoke(app, ["train", "--suite", SUITE, "--cache-dir", str(tmp_path), "--loss", "New loss",
                                "--seed", "0", "--epochs", "1", "--device", "cpu"])
    assert other.exit_code == 0, other.output
    replayed = runner.invoke(app, ["report", *cached, "--until-decided", "--max-seeds", "6"])
    assert "1 cached run(s) of other configurations" in " ".join(replayed.stderr.split())
    fixed = runner.invoke(app, ["report", *cached])
    assert compared.exit_code == replayed.exit_code == fixed.exit_code == 0
    assert json.loads(replayed.stdout) == json.loads(compared.stdout)
    import modbench

    assert modbench.report(SUITE, until_decided=True, max_seeds=6, cache_dir=tmp_path) == json.loads(compared.stdout)
    verdict = {r["label"]: r["verdict"] for r in json.loads(replayed.stdout) if r.get("verdict")}
    plain = {r["label"]: r["verdict"] for r in json.loads(fixed.stdout) if r.get("verdict")}
    assert "decided_at_seeds" in verdict["New loss"] and "decided_at_seeds" not in plain["New loss"]
    assert verdict["New loss"]["ci"] != plain["New loss"]["ci"]
    # the plain report says why its verdicts may differ, and which command gives the rule's
    assert f"`report --suite {SUITE} --until-decided` (with its --max-seeds)" in " ".join(fixed.stderr.split())
    assert f"`report --suite {SUITE} --until-decided`" not in " ".join(replayed.stderr.split())
