"""The pool's relay of worker events (modbench/launch/events.py, ``EventRelay``): a job's start
event can arrive after its result (they travel through different pipes); the caller's observer
still hears of each job's end exactly once, so that a bar of finished runs never counts a run
twice."""

from __future__ import annotations

import queue

from executor_jobs import FakeRun

from modbench.bench.executors import Job
from modbench.launch.events import LaunchObserver
from modbench.launch.local import EventRelay


class Recorder(LaunchObserver):
    def __init__(self):
        self.calls = []

    def job_start(self, slot, run, *, start_epoch, epochs):
        self.calls.append(("start", slot, run.key))

    def job_update(self, slot, *, epochs_done=None, info=""):
        self.calls.append(("update", slot, info))

    def job_end(self, slot, run, *, status):
        self.calls.append(("end", slot, run.key, status))


def test_a_start_event_after_the_result_ends_the_job_once():
    events, seen = queue.Queue(), Recorder()
    job = Job(key="k", call=print, run=FakeRun("k"))
    relay = EventRelay(events, {"k": job.run}, seen)
    relay.finished(job, {"status": "trained"})  # the result first
    events.put(("start", 1, "k", 0, 2))
    events.put(("update", 1, "k", 1.0, "late"))  # dropped: the run is finished
    relay.drain()
    assert seen.calls == [("end", None, "k", "trained"), ("start", 1, "k"), ("update", 1, "trained")]


def test_in_order_events_start_update_and_end_the_jobs_line():
    events, seen = queue.Queue(), Recorder()
    job = Job(key="k", call=print, run=FakeRun("k"))
    relay = EventRelay(events, {"k": job.run, "worker": None}, seen)
    events.put(("start", 0, "k", 0, 2))
    events.put(("update", 0, "k", 1.0, "val x"))
    events.put(("start", 0, "trial-run", 0, 2))  # a run that is not a job (a tuning worker's trial): no line
    relay.drain()
    relay.finished(job, {"status": "cached"})
    assert seen.calls == [("start", 0, "k"), ("update", 0, "val x"), ("end", 0, "k", "cached")]
