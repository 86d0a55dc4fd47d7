"""The steps ``train``, ``compare`` and ``eval`` share: suite -> runs -> runner -> rows."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from modbench.suite.selection import RunSelection, select_runs  # noqa: F401 - select_runs: for the commands


def make_runner(*, cache_dir: Path | None, device: str, data_dir: Path | None, download: bool, observer=None, for_training: bool = True):
    from modbench.cache.store import RunStore, ensure_writable, resolve_cache_root
    from modbench.cli.progress import StderrObserver
    from modbench.engine.runner import Runner, resolve_device

    root = resolve_cache_root(cache_dir)
    if for_training:
        ensure_writable(root)
    return Runner(
        RunStore(root),
        device=join_torchrun(resolve_device(device)),  # the one check of --device (engine/runner.py)
        data_dir=data_dir,
        download=download,
        observer=observer or StderrObserver(),
    )


def remember_suite(selection: RunSelection, root: Path) -> None:
    """Record in the cache which suite asked for the selection's runs, with their labels, so
    that ``report`` and ``cache list`` name a user's suite file (``cache/suite_index.py``).
    Built-in suites are found by their configurations and need no record."""
    from modbench.cache.suite_index import remember_suite as record
    from modbench.suite.loader import builtin_suites_dir

    source = selection.source
    if source.startswith("suites/") and (builtin_suites_dir() / source.removeprefix("suites/")).is_file():
        return
    file = None if source.startswith("<") else str(Path(source).resolve())
    record(root, selection.suite.name, file, {run.key: run.label for run in selection.runs})


def train_selection(selection: RunSelection, runner, *, force: bool, launch=None, logs=None):
    """Train what is missing with progress on stderr; returns the outcomes (in the selection's
    order) after one summary line. ``launch`` (LaunchOptions) trains them in other processes
    instead (--jobs, --launcher; docs/scaling.md)."""
    from modbench.cli.progress import RichObserver

    remember_suite(selection, runner.store.root)
    selection = _downloaded_first(selection, runner)
    if launch is not None and launch.elsewhere:
        from modbench.cli.launching import launch_plan

        outcomes = launch_plan(selection, runner, force=force, launch=launch)
        if logs is not None:  # the jobs trained elsewhere: their logs come from history.json
            logs.cached(outcomes)
    elif not is_main_rank():  # torchrun: rank 0 loads the data first and draws the progress
        from modbench.engine.events import Observer

        runner.observer = Observer()
        return runner.train(selection.runs, selection.eval_cfg, force=force)
    else:
        # Load the data of every run still to train before any progress is drawn, so that missing
        # dataset files are one error line (exit 2) and nothing starts.
        for run in selection.runs:
            if force or runner.store.run(run.key).status() != "done":
                runner.data_for(run)
        with RichObserver(runs=selection.runs) as observer:
            runner.observer = observer if logs is None else logs.alongside(observer)
            outcomes = runner.train(selection.runs, selection.eval_cfg, force=force)
        print_summary(outcomes, seconds=observer.elapsed)
        return outcomes
    print_summary(outcomes)
    return outcomes


def _downloaded_first(selection: RunSelection, runner) -> RunSelection:
    """With --download and dataset files not there yet: download them now (the engine's
    loader), then key the runs by the digest of the files downloaded, as the next command will."""
    from modbench.datasets.locate import ABSENT
    from modbench.suite.selection import restamped

    absent = [r for r in selection.runs if r.config["dataset"].get("files_digest") == ABSENT]
    if not absent or not runner.download or not is_main_rank():
        return selection
    runner.load_data(absent[0].config)
    return restamped(selection, runner.data_dir)


def print_summary(outcomes, *, seconds: float | None = None) -> None:
    """The one line that stays on stderr (the progress bars are cleared): how many runs were
    trained, cached, failed, and in how long."""
    from modbench.cli.common import err
    from modbench.cli.eta import format_duration

    words = {"trained": "trained", "cached": "from the cache", "failed": "failed", "error": "stopped by a job error"}
    counts = [(sum(o.status == s for o in outcomes), w) for s, w in words.items()]
    summary = ", ".join(f"{n} {w}" for n, w in counts if n)
    took = f", {format_duration(seconds)} in all" if seconds is not None and any(o.status == "trained" for o in outcomes) else ""
    err.print(f"{len(outcomes)} run(s): {summary or 'none'}{took}", markup=False, highlight=False)


def train_or_answer(selection: RunSelection, opts, *, launch=None) -> list:
    """The outcomes of ``selection`` (``opts``: the command's TrainOptions): straight from the
    cache when every run is finished (or recorded as failed), so that a cached answer imports
    neither torch nor the engine; else through the engine's Runner (``train_selection``)."""
    logs = live_logs_for(opts, selection)
    if not opts.force and not _under_torchrun():
        from modbench.cache.store import resolve_cache_root

        outcomes = outcomes_from_cache(selection, resolve_cache_root(opts.cache_dir), device=opts.device)
        if outcomes is not None:
            if logs is not None:
                logs.cached(outcomes)
            print_summary(outcomes)
            return outcomes
    runner = make_runner(cache_dir=opts.cache_dir, device=opts.device, data_dir=opts.data_dir, download=opts.download)
    return train_selection(selection, runner, force=opts.force, launch=launch, logs=logs)


def live_logs_for(opts, selection):
    """The --tensorboard / --wandb observer (cli/live_logs.py), or None; checked before training."""
    if opts.tensorboard is None and not opts.wandb:
        return None
    from modbench.cache.store import resolve_cache_root
    from modbench.cli.live_logs import LiveLogs

    return LiveLogs(
        suite=selection.suite.name, tensorboard=opts.tensorboard, wandb=opts.wandb,
        cache_root=resolve_cache_root(opts.cache_dir),
    )


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
    from modbench.cache.reuse import reuse_of, run_numerics
    from modbench.cache.store import CorruptFile, RunStore
    from modbench.engine.outcome import Outcome  # a torch-free leaf

    device_type = device_type_without_torch(device)
    if device_type is None:
        return None
    store = RunStore(root)
    remember_suite(selection, root)
    outcomes = []
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
                outcomes.append(Outcome(run, "cached", result=result))
                continue
            failure = run_dir.failure()
        except CorruptFile:
            return None
        if failure is None:
            return None
        outcomes.append(Outcome(run, "failed", failure=failure))
    return outcomes


def _locked_elsewhere(run_dir) -> bool:
    from modbench.cache.atomic import CacheWriteError

    lock = run_dir.lock()
    try:
        if not lock.acquire(blocking=False):
            return True
    except CacheWriteError:  # a read-only cache: nobody trains there through us
        return False
    lock.release()
    return False


def _under_torchrun() -> bool:
    from modbench.launch.options import under_torchrun

    return under_torchrun()


def report_failures(outcomes) -> int:
    """Warn about failed runs on stderr; the exit code the command should end with."""
    from modbench.cli.common import warn

    failed = [o for o in outcomes if o.status == "failed"]
    errored = [o for o in outcomes if o.status == "error"]  # a launched job that died (warned already)
    # Not trained by this command and without a usable result (its lock holder is stopped, or
    # its cached numbers were made with other numerics): the engine warned with the reason.
    errored += [o for o in outcomes if o.status == "missing"]
    for o in failed:
        f = o.failure or {}
        warn(
            f"run '{o.run.label}' seed {o.run.seed} failed at epoch {f.get('epoch', '?')}, step {f.get('step', '?')}: "
            f"{f.get('reason', 'unknown reason')} (retried only with --force)"
        )
    return 1 if failed or errored else 0


# -- torchrun (docs/scaling.md) ----------------------------------------------------------------
def join_torchrun(device):
    """Under torchrun: join the process group, use this rank's device, quiet the other ranks."""
    from modbench.engine.distributed import current, teardown
    from modbench.engine.runner import join_process_group

    joined = join_process_group(device)
    if current().enabled:
        import atexit

        atexit.register(teardown)
        if not current().is_main:
            from modbench.cli.common import quiet_other_ranks

            quiet_other_ranks()
    return joined


def is_main_rank() -> bool:
    from modbench.launch.options import under_torchrun

    return not under_torchrun() or os.environ.get("RANK") == "0"
