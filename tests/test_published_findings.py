"""docs/findings.md stays true: one published run of each suite retrained on the current code
must give the published metrics exactly.

The findings page (made by scripts/findings.sh) publishes every run's metrics in
docs/findings/<suite>.json, one file per suite. This test retrains the first cross-entropy run
(seed 0) of the closed-set ``fashion-mnist-cpu`` and of the class-disjoint
``fashion-mnist-disjoint``, and of the tuned suite where one is published (its file beside the
JSON, its first seed), on one thread (a few minutes each) and compares their metrics with the
published ones: bit for bit on a machine of the kind the page names (CPU model, family/model/
stepping, torch's CPU capability and torch version from its "How this page was made" table; the
page claims bit-for-bit agreement only on its own kind). Elsewhere the rerun is another draw of
the training noise: each metric must land within three seed-to-seed standard deviations of the
published cross-entropy runs. A page written before it recorded the family and the capability
names no kind exactly (its "AMD EPYC" was a CPU whose runs an AVX-512 "AMD EPYC" does not
reproduce bit for bit), so it gets the second check. A change of code that moves the published
numbers must regenerate the findings in the same commit (bash scripts/findings.sh).

The tunings kept beside the page (docs/findings/tuning/<suite>/, one per loss; a tuned page is
made from them, possibly over several sessions) are checked without training: each must be as
``modbench tune`` wrote it, and be the study this checkout would tune (the study's name covers
the code, the data and the search space), so that a change of code makes them stale here, not
silently in the next regeneration.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from modbench.datasets import fashion_mnist

pytestmark = pytest.mark.realdata

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "findings.md"
FOLDER = ROOT / "docs" / "findings"
REQUIRED = ["fashion-mnist-cpu", "fashion-mnist-disjoint"]
# Every suite published beside the page: the two above, and the tuned suite when one was made.
SUITES = sorted({*REQUIRED, *(p.stem for p in FOLDER.glob("*.json"))})
METRICS = ["nmi", "f1", "macro_f1", "recall@1", "recall@2", "recall@4", "recall@8", "map@r", "p@1",
           "accuracy"]
LABEL = "Cross-entropy"

if not all((fashion_mnist.DEBIAN_DIR / f"{f}.gz").is_file() for f in fashion_mnist.RAW_FILES):
    pytest.skip(f"real Fashion-MNIST not installed in {fashion_mnist.DEBIAN_DIR} "
                "(apt-get install dataset-fashion-mnist)", allow_module_level=True)


def _page(suite: str) -> Path:
    """The page that publishes ``suite``: the tuned comparison has one of its own."""
    return PAGE.with_name("findings-tuned.md") if suite.endswith("-tuned") else PAGE


def _page_machine(suite: str) -> tuple[str, str, str | None, str | None]:
    """(CPU model, torch, CPU family/model/stepping, torch's CPU capability) of the machine the
    page names; the last two None on a page written before they were recorded."""
    text = _page(suite).read_text()
    cpu = re.search(r"^\| CPU \(as /proc/cpuinfo reports it\) \| (.+?) \|$", text, re.M)
    torch_version = re.search(r"^\| Python / torch \| [^/]+/ (.+?) \|$", text, re.M)
    assert cpu and torch_version, "docs/findings.md lacks its machine table"
    cpu_id = re.search(r"^\| CPU family, model, stepping \(/proc/cpuinfo\) \| (.+?) \|$", text, re.M)
    capability = re.search(r"^\| CPU capability \(torch's kernels\) \| (.+?) \|$", text, re.M)
    return (cpu.group(1), torch_version.group(1), cpu_id and cpu_id.group(1),
            capability and capability.group(1))


def _this_machine() -> tuple[str, str, str, str]:
    """This machine as ``_page_machine`` reads the page's (the findings script's own facts)."""
    import torch

    spec = importlib.util.spec_from_file_location("findings_script", ROOT / "scripts" / "findings.py")
    findings = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = findings
    spec.loader.exec_module(findings)
    return (findings.cpu_model(), torch.__version__, findings.cpu_id(),
            torch.backends.cpu.get_cpu_capability())


def _published(suite: str) -> Path:
    return FOLDER / f"{suite}.json"


def _suite_arg(suite: str) -> str:
    """A built-in suite by name; a tuned suite by the file the findings script wrote."""
    if (ROOT / "suites" / f"{suite}.yaml").is_file():
        return suite
    tuned = FOLDER / f"{suite}.yaml"
    assert tuned.is_file(), f"{_published(suite)} has no suite: neither built in nor {tuned}"
    return str(tuned)


def _seed_spread(records: list[dict]) -> dict[str, float]:
    """Each metric's sample standard deviation over the published cross-entropy runs."""
    import statistics

    runs = [r for r in records if r["label"] == LABEL and r.get("seed") is not None]
    return {m: statistics.stdev(v) for m in METRICS
            if len(v := [r[m] for r in runs if r.get(m) is not None]) > 1}


def _first_seed(records: list[dict]) -> int:
    return min(r["seed"] for r in records if r["label"] == LABEL and r.get("seed") is not None)


@pytest.mark.parametrize("suite", SUITES)
def test_the_published_files_are_there_and_consistent(suite):
    records = json.loads(_published(suite).read_text())
    runs = [r for r in records if r.get("seed") is not None and r["status"] == "done"]
    assert any(r["label"] == LABEL and r["seed"] == _first_seed(records) for r in runs)
    for r in runs:  # every published run has its key, its seed and its metrics
        assert re.fullmatch(r"[0-9a-f]{20}", r["run"]) and all(m in r for m in METRICS[:8])
        # and was measured under its suite's protocol (the disjoint suite's test classes unseen)
        assert r["protocol"].startswith("class-disjoint") == suite.endswith("-disjoint")
    text = _page(suite).read_text()
    assert "Generated by `scripts/findings.sh`" in text and f"findings/{suite}.json" in text


@pytest.mark.parametrize("suite", SUITES)
def test_cross_entropy_seed_0_retrains_to_the_published_metrics(tmp_path, suite):
    records = json.loads(_published(suite).read_text())
    seed = _first_seed(records)
    published = next(r for r in records if r["label"] == LABEL and r["seed"] == seed)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    modbench = [sys.executable, "-m", "modbench"]
    common = ["--suite", _suite_arg(suite), "--seed", str(seed), "--cache-dir", str(tmp_path)]
    subprocess.run([*modbench, "train", *common, "--loss", LABEL, "--device", "cpu",
                    "--threads", "1"], env=env, check=True, capture_output=True, timeout=1800)
    report = subprocess.run([*modbench, "report", *common, "--json"], env=env, check=True,
                            capture_output=True, text=True, timeout=600)
    fresh = next(r for r in json.loads(report.stdout) if r["label"] == LABEL and r["seed"] == seed)
    assert fresh["status"] == "done"
    got = {m: fresh.get(m) for m in METRICS}
    want = {m: published.get(m) for m in METRICS}
    page = _page_machine(suite)
    if None not in page and page == _this_machine():
        assert got == want, "the code moved a published number: regenerate with scripts/findings.sh"
    else:  # another kind of machine, or a page that does not say which: no bits promised here
        # Another kind of CPU rounds otherwise, and a training run drifts from there: the rerun is
        # another draw of the training noise, so each metric must land within three seed-to-seed
        # standard deviations of the published cross-entropy runs (at least 0.005).
        spread = _seed_spread(records)
        for m in METRICS:
            if want[m] is None:
                assert got[m] is None, m
            else:
                assert abs(got[m] - want[m]) <= max(3 * spread.get(m, 0.0), 0.005), (m, got[m], want[m], spread.get(m))


def test_a_tuned_suite_is_retrained_from_its_file_at_its_first_seed(tmp_path, monkeypatch):
    # The tuned suite's runs use seeds after the tuning seeds (e.g. 3, 4, 5) and its suite is the
    # YAML file the findings script wrote beside the JSON, not a built-in name.
    monkeypatch.setitem(globals(), "FOLDER", tmp_path)
    records = [{"label": LABEL, "seed": 4}, {"label": LABEL, "seed": 3},
               {"label": LABEL, "seed": None}, {"label": "New loss", "seed": 0}]
    assert _first_seed(records) == 3
    assert _suite_arg("fashion-mnist-cpu") == "fashion-mnist-cpu"  # built in
    (tmp_path / "fashion-mnist-cpu-tuned.yaml").write_text("name: x\n")
    assert _suite_arg("fashion-mnist-cpu-tuned") == str(tmp_path / "fashion-mnist-cpu-tuned.yaml")
    with pytest.raises(AssertionError, match="has no suite"):
        _suite_arg("nowhere-tuned")


KEPT = sorted((FOLDER / "tuning").glob("*/*.yaml"))


@pytest.mark.parametrize("kept", KEPT, ids=[f"{p.parent.name}/{p.stem}" for p in KEPT])
def test_a_kept_tuning_is_the_study_this_checkout_would_tune(kept, tmp_path):
    import yaml

    from modbench.tune.tuned_suite import tuned_section_verified

    spec = importlib.util.spec_from_file_location("findings_script", ROOT / "scripts" / "findings.py")
    findings = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = findings
    spec.loader.exec_module(findings)
    assert tuned_section_verified(kept), f"{kept} is not as `modbench tune` wrote it"
    data = yaml.safe_load(kept.read_text())
    ((label, study),) = data["tuned"]["studies"].items()
    record = json.loads(kept.with_suffix(".json").read_text())
    assert record["label"] == label and record["argv"][:3] == ["tune", "--suite", kept.parent.name]
    args = findings.parse(["--suite", kept.parent.name, "--trials", str(data["tuned"]["trials"]),
                           "--tune-metric", data["tuned"]["metric"]])
    assert study["study"] == findings.current_study(args, label, tmp_path), (
        f"{kept}: this code, data or search space tunes another study; tune again with "
        f"scripts/findings.sh --tune-only --trials {args.trials} --loss '{label}'")
