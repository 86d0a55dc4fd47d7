"""The executors (modbench/bench/executors.py): the same batch of jobs gives the same summaries
inline, in a process pool and on SLURM (submitit's LocalExecutor standing in for a cluster),
each job called with the observer of the place it runs in, its events streamed to the caller's
``LaunchObserver``; a job's error comes back as its summary, inline as the exception itself."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from executor_jobs import FakeRun, Square

from modbench.bench.executors import InlineExecutor, Job, PoolExecutor, SlurmExecutor, executor_for
from modbench.launch.events import LaunchObserver
from modbench.launch.options import SlurmResources, launch_options

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
VALUES = (3, 5, 7)


class Recorder(LaunchObserver):
    """Every call an executor makes, in order."""

    def __init__(self):
        self.calls = []

    def launched(self, *, total, slots):
        self.calls.append(("launched", total, len(slots)))

    def job_start(self, slot, run, *, start_epoch, epochs):
        self.calls.append(("start", run.key if run is not None else None, epochs))

    def job_update(self, slot, *, epochs_done=None, info=""):
        self.calls.append(("update", epochs_done))

    def job_end(self, slot, run, *, status):
        self.calls.append(("end", run.key if run is not None else None, status))

    def message(self, text):
        self.calls.append(("message", text))

    def of(self, kind):
        return [c for c in self.calls if c[0] == kind]


def jobs(values=VALUES) -> list[Job]:
    return [Job(key=f"k{x}", call=Square(), args=(f"k{x}", x), run=FakeRun(f"k{x}"), epochs=2) for x in values]


def comparable(summaries: dict) -> dict:
    """The summaries without what says where the job ran (its observer, a SLURM log)."""
    return {k: {f: v for f, v in s.items() if f not in ("observer", "log")} for k, s in summaries.items()}


@pytest.fixture
def children_import_the_jobs(monkeypatch):
    """Pool workers (spawned: they inherit sys.path) and submitit jobs (PYTHONPATH) import
    ``executor_jobs`` by name."""
    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(TESTS)]))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def test_inline_runs_each_job_here_and_streams_its_events():
    seen = Recorder()
    summaries = InlineExecutor().run(jobs(), seen)
    assert {k: s["value"] for k, s in summaries.items()} == {f"k{x}": x * x for x in VALUES}
    assert {s["observer"] for s in summaries.values()} == {"EventSender"}
    assert seen.calls[0] == ("launched", 3, 1)
    assert seen.of("start") == [("start", f"k{x}", 2) for x in VALUES]
    assert seen.of("end") == [("end", f"k{x}", "done") for x in VALUES]
    assert seen.of("update") == [("update", 1.0), ("update", 2.0)] * 3
    assert seen.of("message") == [("message", f"job k{x}: squared {x}") for x in VALUES]


def test_inline_raises_what_a_job_raises_and_keeps_what_ran_before():
    seen = Recorder()
    with pytest.raises(ValueError, match="negative: -1"):
        InlineExecutor().run(jobs((2, -1, 4)), seen)
    assert seen.of("end") == [("end", "k2", "done")]  # the job before it finished and was reported


def test_inline_with_an_engine_observer_gives_it_the_jobs_events():
    from modbench.engine.events import Observer

    class Engine(Observer):
        messages = []

        def message(self, text):
            self.messages.append(text)

    seen = Recorder()
    InlineExecutor(Engine()).run(jobs((2,)), seen)
    assert Engine.messages == ["job k2: squared 2"] and seen.of("message") == []


def test_executor_for_follows_the_launch_flags(tmp_path):
    assert executor_for(launch_options(launcher=None, jobs=None, devices=None), default_folder=tmp_path, name="x").kind == "inline"
    pool = executor_for(launch_options(launcher=None, jobs=3, devices=None), default_folder=tmp_path, name="x", threads=2)
    assert (pool.kind, pool.workers, pool.threads) == ("pool", 3, 2)
    slurm = executor_for(launch_options(launcher="slurm", jobs=None, devices=None, partition="p"), default_folder=tmp_path, name="x")
    assert (slurm.kind, slurm.folder, slurm.resources.partition) == ("slurm", tmp_path, "p")


@pytest.mark.slow  # two spawned workers, each importing torch (the pool pins its threads)
def test_the_pool_gives_the_same_summaries_as_inline(children_import_the_jobs):
    batch = jobs((3, 5, 7, 0, -1))
    seen = Recorder()
    pooled = PoolExecutor(2).run(batch, seen)
    here = {}
    for job in batch:  # inline, each job alone: -1 raises here
        try:
            here.update(InlineExecutor().run([job], LaunchObserver()))
        except ValueError as exc:
            here[job.key] = {"key": job.key, "status": "error", "message": f"ValueError: {exc}", "exit_code": 1}
    assert comparable(pooled) == comparable(here)
    assert {pooled[f"k{x}"]["value"] for x in (3, 5, 7)} == {9, 25, 49}
    assert pooled["k0"] == {"key": "k0", "status": "error", "message": "zero is refused", "exit_code": 2}
    assert {s.get("observer") for s in pooled.values()} - {None} == {"EventSender"}
    assert seen.calls[0] == ("launched", 5, 2)
    assert sorted(c[1:] for c in seen.of("end")) == sorted((j.key, pooled[j.key]["status"]) for j in batch)
    assert sorted(seen.of("message")) == sorted(("message", f"job k{x}: squared {x}") for x in (3, 5, 7, 0, -1))


@pytest.mark.slow  # one submitit job process per job
def test_slurm_gives_the_same_summaries_with_submitits_local_executor(tmp_path, monkeypatch, children_import_the_jobs):
    pytest.importorskip("submitit")
    import modbench.launch.slurm as slurm

    real = slurm.make_executor
    monkeypatch.setattr(slurm, "make_executor", lambda folder, resources, *, cluster, name: real(folder, resources, cluster="local", name=name))
    batch = jobs((3, 0, -1))
    seen = Recorder()
    done = SlurmExecutor(SlurmResources(time_min=5), tmp_path / "logs", name="test", poll_s=0.2).run(batch, seen)
    assert comparable({k: done[k] for k in ("k3", "k0")}) == comparable(InlineExecutor().run(batch[:2], LaunchObserver()))
    assert done["k3"]["observer"] == "LogObserver"  # the job's events went to its log
    failed = done["k-1"]
    assert failed["status"] == "error" and failed["reason"] == "ValueError: negative: -1"
    assert failed["message"].endswith("failed: ValueError: negative: -1")
    log = Path(failed["log"])
    assert log.parent == tmp_path / "logs" and "job k-1: squared -1" in log.read_text()
    assert Path(done["k0"]["log"]).is_file()  # a job's own error summary names its log too
    assert sorted(c[1:] for c in seen.of("end")) == [("k-1", "error"), ("k0", "error"), ("k3", "done")]
