"""The steps ``train``, ``compare`` and ``eval`` share: suite -> runs -> runner -> rows."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path



@dataclass
class Plan:
    suite: object  # Suite
    source: str
    runs: list
    eval_cfg: dict


def plan(suite_ref: str, *, losses=None, seeds=None, epochs=None, subset=None) -> Plan:
    """Load and validate the suite (exit 2 on any problem), apply overrides, expand runs."""
    from modbench.suite.loader import load_suite
    from modbench.suite.runs import apply_overrides, resolve_runs

    suite, source = load_suite(suite_ref)
    suite = apply_overrides(suite, epochs=epochs, subset=subset, seeds=seeds)
    runs = resolve_runs(suite, source, losses=losses)
    return Plan(suite, source, runs, suite.eval.model_dump(mode="json"))


def make_runner(*, cache_dir: Path | None, device: str, data_dir: Path | None, download: bool, observer=None, for_training: bool = True, threads: int | None = None):
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
        threads=threads,
    )


def train_plan(p: Plan, runner, *, force: bool, launch=None):
    """Train what is missing with progress on stderr; returns the outcomes (in the plan's order)
    after one summary line. ``launch`` (LaunchOptions) trains them in other processes instead
    (--jobs, --launcher; docs/scaling.md)."""
    from modbench.cli.common import err
    from modbench.cli.progress import RichObserver

    if launch is not None and launch.elsewhere:
        from modbench.cli.launching import launch_plan

        outcomes = launch_plan(p, runner, force=force, launch=launch)
    elif not is_main_rank():  # torchrun: rank 0 loads the data first and draws the progress
        from modbench.engine.events import Observer

        runner.observer = Observer()
        return runner.train(p.runs, p.eval_cfg, force=force)
    else:
        # Load the data of every run still to train before any progress is drawn, so that missing
        # dataset files are one error line (exit 2) and nothing starts.
        for run in p.runs:
            if force or runner.store.run(run.key).status() != "done":
                runner.data_for(run)
        with RichObserver(len(p.runs)) as observer:
            runner.observer = observer
            outcomes = runner.train(p.runs, p.eval_cfg, force=force)
    words = {"trained": "trained", "cached": "from the cache", "failed": "failed", "error": "stopped by a job error"}
    counts = [(sum(o.status == s for o in outcomes), w) for s, w in words.items()]
    summary = ", ".join(f"{n} {w}" for n, w in counts if n)
    err.print(f"{len(outcomes)} run(s): {summary or 'none'}", markup=False, highlight=False)
    return outcomes


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
