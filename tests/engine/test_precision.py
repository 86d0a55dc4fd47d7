"""``train.precision: bf16`` / ``--precision``: another run identity, bf16 autocast around the
network on the CPU, recorded in the result, refused where the CPU lacks bf16 support."""

from __future__ import annotations

import json

import pytest
import torch

from helpers import TINY_SUITE

from modbench.engine import backend
from modbench.suite.selection import select_runs

SUITE = {**TINY_SUITE, "train": {**TINY_SUITE["train"], "epochs": 1},
         "losses": [{"name": "cross-entropy", "label": "CE"}], "eval": {"metrics": ["nmi"]}}


def test_precision_is_part_of_the_run_key(write_suite):
    path = str(write_suite(SUITE))
    plain = select_runs(path).runs[0]
    bf16 = select_runs(path, precision="bf16").runs[0]
    in_file = select_runs(str(write_suite({**SUITE, "train": {**SUITE["train"], "precision": "bf16"}},
                                          "bf16.yaml"))).runs[0]
    explicit = select_runs(path, precision="float32").runs[0]
    assert "precision" not in plain.config["train"]  # float32 keys are those of before the setting
    assert bf16.config["train"]["precision"] == "bf16"
    assert bf16.key != plain.key
    assert in_file.key == bf16.key  # the flag and the suite key name one run
    assert explicit.key == plain.key


def test_unknown_precision_is_one_line_exit_2(cli, write_suite):
    result = cli("train", "--suite", write_suite(SUITE), "--device", "cpu", "--precision", "fp8")
    assert result.exit_code == 2
    assert "precision" in result.stderr and "Traceback" not in result.stderr


def test_numerics_and_autocast_follow_the_precision():
    cpu = torch.device("cpu")
    assert backend.numerics(cpu, {"train": {"cpu_threads": 1}})["precision"] == "float32"
    assert backend.numerics(cpu, {"train": {"precision": "bf16"}})["precision"] == "bf16-autocast"
    assert not backend.autocast_bf16(cpu, "float32") and backend.autocast_bf16(cpu, "bf16")
    assert backend.autocast_bf16(torch.device("cuda"), "float32")  # CUDA: as before


def _results(cache_dir) -> dict[str, dict]:
    out = {}
    for path in cache_dir.rglob("result.json"):
        data = json.loads(path.read_text())
        out[data["key"]] = data
    return out


def test_bf16_run_trains_under_autocast_and_records_it(cli, write_suite, cache_dir, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(backend, "cpu_bf16_supported", lambda: True)  # emulated where it is not
    seen = []
    real = torch.autocast

    def spy(device_type, *args, **kwargs):
        seen.append((device_type, kwargs.get("dtype"), kwargs.get("enabled", True)))
        return real(device_type, *args, **kwargs)

    monkeypatch.setattr(torch, "autocast", spy)
    suite = write_suite(SUITE)
    assert cli("train", "--suite", suite, "--device", "cpu").exit_code == 0
    assert ("cpu", torch.bfloat16, True) not in seen  # float32: autocast off
    result = cli("train", "--suite", suite, "--device", "cpu", "--precision", "bf16")
    assert result.exit_code == 0, result.stderr
    assert ("cpu", torch.bfloat16, True) in seen
    runs = {r.config["train"].get("precision", "float32"): r.key for r in
            (select_runs(str(suite)).runs[0], select_runs(str(suite), precision="bf16").runs[0])}
    results = _results(cache_dir)
    assert results[runs["bf16"]]["numerics"]["precision"] == "bf16-autocast"
    assert results[runs["float32"]]["numerics"]["precision"] == "float32"
    # the same seed, data and steps: only the precision differs, and so do the numbers
    assert results[runs["bf16"]]["metrics"] != results[runs["float32"]]["metrics"]
    # the suite's report shows both runs, each with its own precision, never averaged together
    report = cli("report", "--suite", suite, "--json")
    assert report.exit_code == 0, report.stderr
    records = [r for r in json.loads(report.stdout) if r.get("run")]
    shown = {r["run"]: r for r in records if r.get("status") == "done"}
    assert set(runs.values()) <= set(shown), records
    assert shown[runs["bf16"]]["identity"]["precision"] == "bf16-autocast"
    assert shown[runs["float32"]]["identity"].get("precision", "float32") == "float32"


def test_bf16_refused_without_cpu_support(cli, write_suite, cache_dir, monkeypatch):
    monkeypatch.setattr(backend, "cpu_bf16_supported", lambda: False)
    result = cli("train", "--suite", write_suite(SUITE), "--device", "cpu", "--precision", "bf16")
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "bf16 support" in errors[0] and "Traceback" not in result.stderr
    assert not _results(cache_dir)  # nothing trained


@pytest.mark.parametrize("supported", [True, False])
def test_check_precision_uses_the_capability_query(monkeypatch, supported):
    from modbench.errors import UserError

    monkeypatch.setattr(backend, "cpu_bf16_supported", lambda: supported)
    backend.check_precision(torch.device("cpu"), "float32")  # never refused
    backend.check_precision(torch.device("cuda"), "bf16")  # CUDA: not a CPU question
    if supported:
        backend.check_precision(torch.device("cpu"), "bf16")
    else:
        with pytest.raises(UserError, match="bf16 support"):
            backend.check_precision(torch.device("cpu"), "bf16")
