"""The one reuse rule (cache/reuse.py), used by the Runner and by the torch-free cached answer."""

from __future__ import annotations

import ast
from pathlib import Path

from modbench.cache.reuse import reuse_of, run_numerics

EVAL = {"metrics": ["nmi", "recall@1"], "kmeans_seed": 0, "kmeans_n_init": 1}
CPU1 = {"device": "cpu", "precision": "float32", "cpu_threads": 1}


def _result(numerics=CPU1, metrics=("nmi", "recall@1"), **eval_):
    return {"numerics": numerics, "metrics": {m: 0.5 for m in metrics}, "eval": {**EVAL, **eval_},
            "files": {"queries.npz": {"sha256": "0" * 64, "size": 1}}}


def test_a_result_of_the_same_numerics_answering_the_evaluation_is_used_as_is():
    assert reuse_of(_result(), EVAL, CPU1).usable_as_is


def test_other_numerics_are_refused_naming_both():
    reuse = reuse_of(_result({**CPU1, "cpu_threads": 4}), EVAL, CPU1)
    assert reuse.refused and "4 CPU thread(s)" in reuse.refused and "1 CPU thread(s)" in reuse.refused
    assert reuse_of({"metrics": {}}, EVAL, CPU1).refused  # no numerics recorded


def test_a_missing_metric_or_other_kmeans_settings_or_no_query_records_need_an_evaluation():
    assert reuse_of(_result(metrics=("nmi",)), EVAL, CPU1).evaluate
    assert reuse_of(_result(kmeans_seed=3), EVAL, CPU1).evaluate
    assert reuse_of({**_result(), "files": {}}, EVAL, CPU1).evaluate


def test_numerics_come_from_the_configuration():
    assert run_numerics({"train": {"cpu_threads": 3}}, "cpu") == {**CPU1, "cpu_threads": 3}
    assert run_numerics({"train": {}}, "cpu") == CPU1
    assert run_numerics({"train": {"cpu_threads": 3}}, "cuda")["cpu_threads"] is None


def test_the_engine_and_the_cached_answer_call_the_one_rule():
    """Both decide through reuse_of; neither compares numerics or metrics itself."""
    package = Path(__file__).resolve().parents[2] / "modbench"
    for path in (package / "engine" / "runner.py", package / "bench" / "run.py"):
        source = path.read_text()
        names = {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}
        assert "reuse_of" in names, path
        assert "numerics_mismatch" not in source and "evaluation_answers" not in source, path
