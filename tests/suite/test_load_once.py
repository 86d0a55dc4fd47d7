"""The suite layer is one-way, validates each loss setting once, and the
overrides are validated like the file."""

from __future__ import annotations

import ast
import copy
import pickle
from pathlib import Path

import pytest

import modbench
from modbench.suite.loader import SuiteError, load_suite, parse_suite
from modbench.suite.references import loss_params_model
from modbench.suite.runs import apply_overrides, resolve_runs

from helpers import TINY_SUITE

SUITE_PACKAGE = Path(modbench.__file__).parent / "suite"
ImprovedParams = loss_params_model("improved")


def imported_suite_modules(path: Path) -> set[str]:
    """The ``modbench.suite.*`` modules that ``path`` imports, at top level or in functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n.startswith("modbench.suite.") and (SUITE_PACKAGE / f"{n.split('.')[2]}.py").is_file()}
    return {".".join(n.split(".")[:3]) for n in found}


def test_suite_modules_import_one_way():
    graph = {f"modbench.suite.{p.stem}": imported_suite_modules(p) for p in SUITE_PACKAGE.glob("*.py")}

    def reaches(start, goal, seen=()):
        return any(n == goal or (n not in seen and reaches(n, goal, (*seen, n))) for n in graph.get(start, ()))

    cycles = [m for m in graph if reaches(m, m)]
    assert cycles == [], graph
    assert "modbench.suite.loader" not in graph["modbench.suite.runs"]


@pytest.fixture
def count_validations(monkeypatch):
    """How often ImprovedParams validates a parameter dict."""
    calls = []
    original = ImprovedParams.model_validate.__func__

    def counting(cls, *args, **kwargs):
        calls.append(args[0] if args else kwargs)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(ImprovedParams, "model_validate", classmethod(counting))
    return calls


def test_each_loss_setting_is_validated_once(write_suite, count_validations):
    data = copy.deepcopy(TINY_SUITE)
    data["seeds"] = [0, 1, 2]
    suite, source = load_suite(str(write_suite(data)))
    assert len(count_validations) == 1  # one improved entry, validated at load
    for _ in range(2):  # plan() and report both resolve runs: nothing is validated again
        runs = resolve_runs(apply_overrides(suite, epochs=3), source)
    assert len(count_validations) == 1
    improved = [r for r in runs if r.loss == "improved"]
    assert len(improved) == 3
    for run in improved:
        assert isinstance(run.params, ImprovedParams)
        assert run.params.model_dump(mode="json") == run.config["loss"]["params"]
        # every loss also carries the controls loss_scale and weight_decay (losses branch)
        assert run.config["loss"]["params"] == {"beta": 4.0, "gamma": 5.0, "loss_scale": 1.0, "weight_decay": 0.0}


def test_build_loss_uses_the_runs_parameter_model(write_suite, count_validations):
    from modbench.engine.train import build_loss

    suite, source = load_suite(str(write_suite(TINY_SUITE)))
    (run,) = resolve_runs(suite, source, losses=["New loss"])
    before = len(count_validations)
    module = build_loss(run.config["loss"], num_classes=10, embedding_dim=16, params=run.params)
    assert len(count_validations) == before
    assert module(__import__("torch").randn(4, 16), __import__("torch").tensor([0, 1, 2, 3])).ndim == 0


def test_a_run_pickles_with_its_model_where_the_class_can_be_found_again(write_suite, tmp_path):
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = [{"name": "pml:ContrastiveLoss", "params": {"pos_margin": 0.1}}, {"name": "improved", "params": {"beta": 2}}]
    pml, improved = resolve_runs(*load_suite(str(write_suite(data))))
    assert pml.params is not None and pml.params.pos_margin == 0.1
    for run in (pml, improved):
        back = pickle.loads(pickle.dumps(run))  # --jobs workers get runs through pickle (spawn)
        assert back == run and back.config == run.config and back.references == run.references
    assert pickle.loads(pickle.dumps(improved)).params == ImprovedParams(beta=2.0, gamma=5.0)
    assert pickle.loads(pickle.dumps(pml)).params is None  # a class made at run time: validated again there


def test_the_suite_knows_its_folder(write_suite, tmp_path):
    suite, source = load_suite(str(write_suite(TINY_SUITE)))
    assert suite.source_dir == tmp_path.resolve() and suite.source == source
    assert apply_overrides(suite, epochs=3).source_dir == tmp_path.resolve()
    builtin, _ = load_suite("digits")
    assert (builtin.source_dir / "digits.yaml").is_file()


def test_a_suite_from_parse_suite_still_resolves():
    suite = parse_suite(copy.deepcopy(TINY_SUITE), "s.yaml")
    assert suite.loss_settings is None and suite.source_dir is None
    assert [r.label for r in resolve_runs(suite, "s.yaml")] == ["CE", "New loss", "Triplet"]


@pytest.mark.parametrize(
    "overrides, key_path, fragment",
    [
        ({"epochs": 0}, "train.epochs", "greater than or equal to 1"),
        ({"epochs": 10**12}, "train.epochs", "less than or equal to 10000"),
        ({"subset": 0}, "dataset.subset", "greater than or equal to 1"),
        ({"seeds": [2**64]}, "seeds", "seeds must be in 0..4294967295"),
        ({"seeds": [-1]}, "seeds", "seeds must be in"),
    ],
)
def test_overrides_are_validated_like_the_suite(write_suite, overrides, key_path, fragment):
    path = write_suite(TINY_SUITE)
    suite, source = load_suite(str(path))
    with pytest.raises(SuiteError) as info:
        apply_overrides(suite, **overrides)
    message = str(info.value)
    assert message.startswith(f"{path}: {key_path}: ") and fragment in message and "override" in message, message


def test_an_override_keeps_the_run_count_bounded(write_suite):
    data = copy.deepcopy(TINY_SUITE)
    data["losses"] = [{"name": "improved", "params": {"beta": [float(b) for b in range(1, 21)]}}]
    suite, _ = load_suite(str(write_suite(data)))
    assert len(resolve_runs(apply_overrides(suite, seeds=list(range(500))), "s")) == 20 * 500
    with pytest.raises(SuiteError, match=r"20 loss setting\(s\) x 600 seed\(s\) = 12000 runs, more than 10000"):
        apply_overrides(suite, seeds=list(range(600)))


@pytest.mark.parametrize(
    "jobs",
    [[], pytest.param(["--launcher", "local", "--jobs", "1"], marks=pytest.mark.slow)],  # a worker process: slow
    ids=["inline", "worker process"],
)
def test_a_loss_file_relative_to_the_suite_trains_from_any_folder(cli, tmp_path, monkeypatch, cache_dir, jobs):
    """``./file.py:Class`` is relative to the suite file at load and when the run trains, also
    in a worker process (which knows the file only from the run: RunSpec.references, resolved at load)."""
    import json
    import shutil

    import yaml

    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(Path(modbench.__file__).parent.parent / "docs" / "examples" / "poly_loss.py", folder / "poly_loss.py")
    data = copy.deepcopy(TINY_SUITE)
    data["dataset"]["subset"], data["train"]["epochs"] = 6, 1
    data["losses"] = [{"name": "./poly_loss.py:PolyLoss", "label": "Poly-1"}]
    (folder / "s.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.chdir(tmp_path)  # not the suite's folder
    result = cli("compare", "--suite", "mine/s.yaml", "--json", "--cache-dir", cache_dir, "--device", "cpu", *jobs)
    assert result.exit_code == 0, result.stderr
    assert [r["status"] for r in json.loads(result.stdout) if r.get("status")] == ["done"]


def test_a_missing_backbone_file_is_refused_at_load(write_suite):
    data = copy.deepcopy(TINY_SUITE)
    data["backbone"]["name"] = "./no_such_nets.py:Net"
    path = write_suite(data)
    with pytest.raises(SuiteError) as info:
        load_suite(str(path))
    assert str(info.value).startswith(f"{path}: backbone.name: ") and "no_such_nets.py" in str(info.value)
