"""Launcher flags, the suite's ``slurm:`` section, CPU shares, and the one-line errors."""

from __future__ import annotations

import sys

import pytest

from modbench.errors import UserError
from modbench.launch.options import SlurmResources, cpu_share, launch_options
from modbench.suite.loader import SuiteError, parse_suite
from modbench.suite.runs import resolve_runs
from scaling_helpers import TINY, invoke, write_suite


def opts(**kw):
    base = {"launcher": None, "jobs": None, "devices": None}
    return launch_options(**{**base, **kw})


def test_the_default_is_one_run_after_another_here():
    o = opts()
    assert (o.launcher, o.jobs, o.elsewhere) == ("inline", 1, False)


def test_jobs_or_devices_imply_the_local_launcher():
    assert (opts(jobs=3).launcher, opts(jobs=3).jobs) == ("local", 3)
    o = opts(devices="0,1")
    assert (o.launcher, o.jobs, o.devices) == ("local", 2, (0, 1))
    assert opts(jobs=1).launcher == "inline"


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"launcher": "pbs"}, r"--launcher pbs: choose inline, local, slurm"),
        ({"devices": "0,a"}, r"--devices 0,a: give CUDA device indices"),
        ({"devices": "1,1"}, r"listed twice"),
        ({"partition": "gpu"}, r"--partition applies to --launcher slurm only"),
        ({"jobs": 2, "time_min": 5}, r"--time-min applies to --launcher slurm only"),
        ({"launcher": "slurm", "jobs": 4}, r"--jobs applies to --launcher local"),
        ({"launcher": "slurm", "devices": "0"}, r"--devices applies to --launcher local"),
    ],
)
def test_flag_combinations_that_make_no_sense_are_one_line_errors(kw, message):
    with pytest.raises(UserError, match=message) as info:
        opts(**kw)
    assert "\n" not in str(info.value)


def test_launching_processes_from_inside_torchrun_is_refused(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(UserError, match="without torchrun"):
        opts(jobs=2)


def test_slurm_resources_come_from_the_suite_and_flags_override_them():
    suite = parse_suite({**TINY, "slurm": {"partition": "a100", "gpus_per_job": 2, "mem_gb": 32, "account": "lab"}}, "s.yaml")
    o = opts(launcher="slurm", partition="h100", time_min=90, suite_slurm=suite.slurm)
    assert o.slurm == SlurmResources(partition="h100", account="lab", gpus_per_job=2, mem_gb=32, time_min=90)
    params = o.slurm.submitit_parameters()
    assert params == {
        "timeout_min": 90, "gpus_per_node": 2, "nodes": 1, "tasks_per_node": 1, "mem_gb": 32,
        "slurm_partition": "h100", "slurm_account": "lab",
    }
    defaults = opts(launcher="slurm").slurm
    assert (defaults.gpus_per_job, defaults.time_min, defaults.partition) == (1, 24 * 60, None)


@pytest.mark.parametrize(
    "section, path, message",
    [
        ({"partiton": "gpu"}, "slurm.partiton", "did you mean 'partition'?"),
        ({"gpus_per_job": -1}, "slurm.gpus_per_job", "greater than or equal to 0"),
        ({"time_min": 0}, "slurm.time_min", "greater than or equal to 1"),
        ({"mem_gb": "lots"}, "slurm.mem_gb", "valid number"),
        ("gpu", "slurm", "valid dictionary"),
    ],
)
def test_the_suite_slurm_section_is_strict(section, path, message):
    with pytest.raises(SuiteError) as info:
        parse_suite({**TINY, "slurm": section}, "s.yaml")
    assert str(info.value).startswith(f"s.yaml: {path}: ")
    assert message in str(info.value)


def test_where_a_run_trains_is_not_part_of_its_key():
    plain = parse_suite(TINY, "s.yaml")
    with_slurm = parse_suite({**TINY, "slurm": {"partition": "gpu", "time_min": 600}}, "s.yaml")
    assert [r.key for r in resolve_runs(plain, "s.yaml")] == [r.key for r in resolve_runs(with_slurm, "s.yaml")]


def test_cpu_shares_are_disjoint_and_respect_omp_num_threads(monkeypatch):
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    shares = [cpu_share(4, slot) for slot in range(4)]
    assert [t for t, _ in shares] == [2, 2, 2, 2]
    cores = [c for _, cs in shares for c in cs]
    assert sorted(cores) == list(range(8))  # disjoint, all used
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert cpu_share(2, 1)[0] == 1
    assert cpu_share(16, 11) == (1, [3])  # more jobs than cores: one core each, shared


def test_slurm_without_submitit_is_one_line_exit_2(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "submitit", None)  # import submitit -> ImportError
    suite = write_suite(tmp_path)
    result = invoke("compare", "--suite", suite, "--launcher", "slurm", "--cache-dir", tmp_path / "c")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: --launcher slurm needs submitit, which is not installed: pip install modbench[slurm]"
    )
    assert not list((tmp_path / "c" / "runs").iterdir())  # nothing trained


def test_slurm_without_sbatch_says_where_to_run(tmp_path, monkeypatch):
    pytest.importorskip("submitit")
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here
    result = invoke("train", "--suite", write_suite(tmp_path), "--launcher", "slurm", "--cache-dir", tmp_path / "c")
    assert result.exit_code == 2
    assert "sbatch is not on PATH here" in result.stderr and result.stderr.count("\n") == 1


def test_devices_without_cuda_is_one_line_exit_2(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = invoke("train", "--suite", write_suite(tmp_path), "--devices", "0,1", "--cache-dir", tmp_path / "c")
    assert result.exit_code == 2
    assert "--devices 0,1: no CUDA device is available here" in result.stderr
