"""Running a selection: the outcome of every run, trained where the cache lacks it.

``outcomes(selection, settings, events)`` is what ``train`` and ``compare`` do, from the command
line and from the Python API: a torch-free answer straight from the cache when every run is
finished (``outcomes_from_cache``), else the engine's Runner, through an executor
(``executors.py``): inline, in this process (resuming interrupted runs, joining torchrun's
process group), or one job per missing run in a pool or on SLURM (``launching.py``).
Nothing here prints: progress and warnings go to the caller's ``Events``.

The engine (``modbench.engine.runner``, ``engine.distributed``) is imported inside the functions
that need it: it imports torch, and a cached answer must not (tests/test_startup.py).
"""

from __future__ import annotations

import atexit
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from modbench.bench.events import Events
from modbench.bench.executors import InlineExecutor, Job
from modbench.bench.launching import launch_plan
from modbench.bench.live_logs import LiveLogs
from modbench.cache.atomic import CacheWriteError
from modbench.cache.reuse import reuse_of, run_numerics
from modbench.cache.store import CorruptFile, RunStore, ensure_writable, resolve_cache_root
from modbench.cache.suite_index import remember_suite as record_suite
from modbench.datasets.locate import ABSENT
from modbench.engine.events import Observer
from modbench.engine.outcome import Outcome  # a torch-free leaf
from modbench.launch.events import LaunchObserver
from modbench.launch.options import under_torchrun
from modbench.suite.loader import builtin_suites_dir
from modbench.suite.selection import RunSelection, restamped


@dataclass(frozen=True)
class RunSettings:
    """Where and how a selection's runs train: the options ``train`` and ``compare`` share
    with the Python API's functions (``--cache-dir``, ``--device``, ``--data-dir``,
    ``--download``, ``--force``, ``--tensorboard``, ``--wandb``)."""

    cache_dir: Path | None = None
    device: str = "auto"
    data_dir: Path | None = None
    download: bool = False
    force: bool = False
    tensorboard: Path | None = None
    wandb: bool = False

    @property
    def cache_root(self) -> Path:
        return resolve_cache_root(self.cache_dir)


def make_runner(settings: RunSettings, events: Events, *, for_training: bool = True):
    """The engine's Runner over the cache of ``settings`` (imports torch)."""
    from modbench.engine.runner import Runner, resolve_device

    root = settings.cache_root
    if for_training:
        ensure_writable(root)
    return Runner(
        RunStore(root),
        device=join_torchrun(resolve_device(settings.device), events),  # the one check of --device (engine/runner.py)
        data_dir=settings.data_dir,
        download=settings.download,
        observer=events.notices(),
    )


def remember_suite(selection: RunSelection, root: Path) -> None:
    """Record in the cache which suite asked for the selection's runs, with their labels, so
    that ``report`` and ``cache list`` name a user's suite file (``cache/suite_index.py``).
    Built-in suites are found by their configurations and need no record."""
    source = selection.source
    if source.startswith("suites/") and (builtin_suites_dir() / source.removeprefix("suites/")).is_file():
        return
    file = None if source.startswith("<") else str(Path(source).resolve())
    record_suite(root, selection.suite.name, file, {run.key: run.label for run in selection.runs})


def outcomes(selection: RunSelection, settings: RunSettings, events: Events, *, launch=None) -> list:
    """The outcomes of ``selection`` (in its order): straight from the cache when every run is
    finished (or recorded as failed), so that a cached answer imports neither torch nor the
    engine; else through the engine's Runner (``train_selection``). ``launch``
    (LaunchOptions): train the missing runs in other processes (--jobs, --launcher)."""
    logs = live_logs_for(settings, selection)
    if not settings.force and not under_torchrun():
        cached = outcomes_from_cache(selection, settings.cache_root, device=settings.device)
        if cached is not None:
            if logs is not None:
                logs.cached(cached)
            events.finished(cached, None)
            return cached
    runner = make_runner(settings, events)
    return train_selection(selection, runner, events, force=settings.force, launch=launch, logs=logs)


def train_selection(selection: RunSelection, runner, events: Events, *, force: bool, launch=None, logs=None) -> list:
    """Train what is missing; the outcomes in the selection's order. ``launch`` elsewhere
    (``--jobs``, ``--launcher slurm``): one job per missing run on a pool or SLURM executor
    (``launching.py``); else one job on the inline executor: ``runner`` trains the runs in this
    process (under torchrun, every rank does, in lockstep)."""
    remember_suite(selection, runner.store.root)
    selection = _downloaded_first(selection, runner)
    if launch is not None and launch.elsewhere:
        result = launch_plan(selection, runner, events, force=force, launch=launch)
        if logs is not None:  # the jobs trained elsewhere: their logs come from history.json
            logs.cached(result)
        events.finished(result, None)
        return result
    job = Job(key="this process", call=_train_here, args=(runner, selection, force))
    if not is_main_rank():  # torchrun: rank 0 loads the data first and shows the progress
        return InlineExecutor(Observer()).run([job], LaunchObserver())[job.key]["outcomes"]
    # Load the data of every run still to train before any progress is shown, so that missing
    # dataset files are one error (exit 2) and nothing starts.
    for run in selection.runs:
        if force or runner.store.run(run.key).status() != "done":
            runner.data_for(run)
    started = time.monotonic()
    with events.training(selection.runs) as observer:
        here = InlineExecutor(observer if logs is None else logs.alongside(observer))
        result = here.run([job], LaunchObserver())[job.key]["outcomes"]
    events.finished(result, time.monotonic() - started)
    return result


def _train_here(runner, selection: RunSelection, force: bool, *, observer) -> dict:
    """The inline job: ``runner`` trains the selection in this process, in order, putting back
    runs another process holds until the others are done (``Runner.train``)."""
    runner.observer = observer
    return {"status": "done", "outcomes": runner.train(selection.runs, selection.eval_cfg, force=force)}


def _downloaded_first(selection: RunSelection, runner) -> RunSelection:
    """With --download and dataset files not there yet: download them now (the engine's
    loader), then key the runs by the digest of the files downloaded, as the next command will."""
    absent = [r for r in selection.runs if r.config["dataset"].get("files_digest") == ABSENT]
    if not absent or not runner.download or not is_main_rank():
        return selection
    runner.load_data(absent[0].config)
    return restamped(selection, runner.data_dir)


def live_logs_for(settings: RunSettings, selection: RunSelection) -> LiveLogs | None:
    """The --tensorboard / --wandb observer (``live_logs.py``), or None; checked before training."""
    if settings.tensorboard is None and not settings.wandb:
        return None
    return LiveLogs(suite=selection.suite.name, tensorboard=settings.tensorboard, wandb=settings.wandb,
                    cache_root=settings.cache_root)


def evaluated(selection: RunSelection, settings: RunSettings, events: Events) -> list:
    """The outcomes of ``selection`` with its metrics, training nothing (``modbench eval``):
    from the cache alone, without torch, when every run is finished with those metrics; else
    through the Runner, which computes the metrics the cache lacks (runs never trained are
    ``missing``)."""
    cached = outcomes_from_cache(selection, settings.cache_root, device=settings.device)
    if cached is not None:
        return cached
    runner = make_runner(settings, events, for_training=False)
    return runner.evaluate(selection.runs, selection.eval_cfg)


def _gpu_may_be_present() -> bool:
    """False only when this machine certainly has no GPU torch could use (no NVIDIA, ROCm or
    WSL GPU device node), decided without importing torch."""
    if sys.platform != "linux":
        return sys.platform != "darwin"  # macOS: no CUDA; elsewhere: ask torch
    nodes = ("/dev/nvidiactl", "/dev/nvidia0", "/proc/driver/nvidia", "/dev/kfd", "/dev/dxg")
    return any(os.path.exists(p) for p in nodes)


def device_type_without_torch(device: str) -> str | None:
    """The device type ``--device`` trains on when it is known without importing torch: the CPU
    (``--device cpu``, or ``auto`` on a machine without any GPU device node); None otherwise
    (the engine's ``resolve_device`` is the one check of the name)."""
    if device == "cpu" or (device == "auto" and not _gpu_may_be_present()):
        return "cpu"
    return None


def outcomes_from_cache(selection: RunSelection, root: Path, *, device: str = "auto") -> list | None:
    """Outcomes of every run of ``selection`` from the cache alone, or None as soon as one run
    needs the engine (missing, partial, corrupted, not usable as it is under the reuse rule of
    ``cache/reuse.py`` that the Runner applies too, its device not known without torch, or
    locked by another process). Checks what the Runner checks before reusing a run (the full
    sha256 of every file ``result.json`` names), and only reads: anything doubtful goes to the
    Runner, which reports and repairs it."""
    device_type = device_type_without_torch(device)
    if device_type is None:
        return None
    store = RunStore(root)
    remember_suite(selection, root)
    found = []
    for run in selection.runs:
        run_dir = store.run(run.key)
        if not run_dir.path.is_dir() or _locked_elsewhere(run_dir):
            return None
        try:
            result = run_dir.result(deep=True)
            if result is not None:
                if not reuse_of(result, selection.eval_cfg, run_numerics(run.config, device_type)).usable_as_is:
                    return None
                if run_dir.queries_problem(result) is not None:
                    return None
                found.append(Outcome(run, "cached", result=result))
                continue
            failure = run_dir.failure()
        except CorruptFile:
            return None
        if failure is None:
            return None
        found.append(Outcome(run, "failed", failure=failure))
    return found


def _locked_elsewhere(run_dir) -> bool:
    lock = run_dir.lock()
    try:
        if not lock.acquire(blocking=False):
            return True
    except CacheWriteError:  # a read-only cache: nobody trains there through us
        return False
    lock.release()
    return False


def failure_warnings(outcomes: list) -> list[str]:
    """One warning line per run whose loss turned non-finite (recorded as failed)."""
    lines = []
    for o in outcomes:
        if o.status == "failed":
            f = o.failure or {}
            lines.append(
                f"run '{o.run.label}' seed {o.run.seed} failed at epoch {f.get('epoch', '?')}, step {f.get('step', '?')}: "
                f"{f.get('reason', 'unknown reason')} (retried only with --force)"
            )
    return lines


def exit_code(outcomes: list) -> int:
    """1 when a run failed, a launched job died (warned already), or a run was neither trained
    by this command nor has a usable result (its lock holder is stopped, or its cached numbers
    were made with other numerics: the engine warned with the reason); else 0."""
    return 1 if any(o.status in ("failed", "error", "missing") for o in outcomes) else 0


# -- torchrun (docs/scaling.md) ----------------------------------------------------------------
def join_torchrun(device, events: Events):
    """Under torchrun: join the process group, use this rank's device; the other ranks than 0
    are told so (``events.other_rank``: the command line quiets them)."""
    from modbench.engine.distributed import current, teardown
    from modbench.engine.runner import join_process_group

    joined = join_process_group(device)
    if current().enabled:
        atexit.register(teardown)
        if not current().is_main:
            events.other_rank()
    return joined


def is_main_rank() -> bool:
    return not under_torchrun() or os.environ.get("RANK") == "0"
