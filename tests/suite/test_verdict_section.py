"""The ``verdict:`` section of a suite: defaults, the metric and baseline checks (one line, exit 2,
naming the key), and the settings of the built-in suites."""

from __future__ import annotations

import copy

import pytest

from helpers import TINY_SUITE
from modbench.errors import UserError
from modbench.suite.loader import builtin_suite_names, load_suite
from modbench.suite.runs import resolve_runs


def _suite(**sections):
    data = copy.deepcopy(TINY_SUITE)
    data.update(sections)
    return data


def test_defaults_map_at_r_margin_one_hundredth_no_baseline():
    suite, _ = load_suite(_suite())
    v = suite.verdict
    assert (v.metric, v.margin, v.baseline, v.alpha) == ("map@r", 0.01, None, 0.05)
    assert "map@r" in suite.eval.metrics


def test_the_default_verdict_metric_is_measured_even_when_eval_lists_others():
    suite, _ = load_suite(_suite(eval={"metrics": ["nmi", "recall@1"]}))
    assert suite.eval.metrics == ["nmi", "recall@1", "map@r"]
    # Written explicitly, the metric must be listed: nothing is added behind the user's back.
    suite, _ = load_suite(_suite(eval={"metrics": ["nmi", "recall@1"]}, verdict={"metric": "recall@1"}))
    assert suite.eval.metrics == ["nmi", "recall@1"]


def test_settings_are_read_and_spelled_once():
    suite, _ = load_suite(_suite(verdict={"metric": "Recall@01", "margin": 0.02, "baseline": "CE", "alpha": 0.1}))
    assert suite.verdict.model_dump() == {"metric": "recall@1", "margin": 0.02, "baseline": "CE", "alpha": 0.1}
    by_name, _ = load_suite(_suite(verdict={"baseline": "triplet"}))  # a loss name one setting has
    assert by_name.verdict.baseline == "triplet"


def test_the_verdict_is_not_part_of_any_run_key():
    plain, source = load_suite(_suite())
    other, _ = load_suite(_suite(verdict={"metric": "p@1", "margin": 0.05, "baseline": "CE"}))
    assert [r.key for r in resolve_runs(plain, source)] == [r.key for r in resolve_runs(other, source)]


@pytest.mark.parametrize(
    ("verdict", "eval_", "fragment"),
    [
        ({"metric": "nmi"}, None, "verdict.metric: nmi has no value per test query"),
        ({"metric": "f1"}, None, "verdict.metric: f1 has no value per test query"),
        ({"metric": "recal@1"}, None, "verdict.metric: unknown metric 'recal@1'"),
        ({"metric": "recall@3"}, None, "verdict.metric: recall@3 is not measured by this suite; add it to eval.metrics"),
        ({"metric": "p@1"}, {"metrics": ["nmi", "recall@1"]}, "verdict.metric: p@1 is not measured"),
        ({"baseline": "Cross entropy"}, None, "verdict.baseline: unknown loss or label 'Cross entropy'"),
        ({"margin": 0}, None, "verdict.margin"),
        ({"margin": -0.01}, None, "verdict.margin"),
        ({"alpha": 0.9}, None, "verdict.alpha"),
        ({"metrc": "map@r"}, None, "verdict.metrc"),
    ],
)
def test_bad_settings_name_the_key(verdict, eval_, fragment):
    data = _suite(verdict=verdict, **({"eval": eval_} if eval_ else {}))
    with pytest.raises(UserError) as exc:
        load_suite(data)
    assert fragment in str(exc.value)


def test_an_ambiguous_loss_name_as_baseline_is_refused():
    data = _suite(losses=[{"name": "cross-entropy", "label": "CE"},
                          {"name": "cross-entropy", "label": "CE x 2", "params": {"loss_scale": 2}}],
                  verdict={"baseline": "cross-entropy"})
    with pytest.raises(UserError, match="verdict.baseline: 2 loss settings are 'cross-entropy'; give one label"):
        load_suite(data)


def test_a_bad_verdict_is_one_line_and_exit_2(cli, write_suite):
    result = cli("train", "--suite", write_suite(_suite(verdict={"metric": "nmi"})))
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "verdict.metric" in line and "map@r, p@1 or recall@K" in line


PAPER = ["cifar10-googlenet-sweep", "cifar10-googlenet", "cifar10-resnet50", "cifar100-googlenet",
         "fashion-mnist-resnet50", "fashion-mnist-cpu"]


@pytest.mark.parametrize("name", PAPER)
def test_paper_suites_decide_on_recall_at_1_against_cross_entropy(name):
    suite, source = load_suite(name)
    assert suite.verdict.metric == "recall@1" and suite.verdict.baseline == "Cross-entropy"
    assert (suite.verdict.margin, suite.verdict.alpha) == (0.01, 0.05)
    assert "Cross-entropy" in {r.label for r in resolve_runs(suite, source)}


def test_every_builtin_suite_has_a_valid_verdict():
    assert set(PAPER) < set(builtin_suite_names())
    for name in builtin_suite_names():
        suite, _ = load_suite(name)
        assert suite.verdict.metric in suite.eval.metrics
