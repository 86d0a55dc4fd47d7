"""Running a list of runs against the cache: train what is missing, reuse what is done.

This is the one loop over runs, for one process and for every rank under torchrun: rank 0 alone
holds each run's lock, reads the cache and decides what the run needs; the decision reaches the
other ranks through ``Dist.agree`` (a no-op in one process), and every rank then trains the
same runs in the same order. Only rank 0 writes (the others get a read-only run folder).

Datasets are loaded once per process and kept on the device for every run that uses them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from modbench.cache.atomic import CacheWriteError
from modbench.cache.lock import describe_holder
from modbench.cache.reuse import reuse_of
from modbench.cache.store import QUERIES, CorruptFile, RunStore
from modbench.engine import backend, distributed
from modbench.engine.events import Observer, corrupt_notice
from modbench.engine.outcome import Outcome
from modbench.engine.device_names import check_device_name
from modbench.errors import UserError
from modbench.user_code import running_user_code

# A run whose lock holder is stopped (SIGSTOP, a suspended job) for this long is skipped.
STOPPED_HOLDER_S = 2.0


def resolve_device(name: str) -> torch.device:
    """The one check of a --device name (the command line passes it through)."""
    check_device_name(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available here; use --device cpu or auto")
    return torch.device(name)


def join_process_group(device: torch.device) -> torch.device:
    """Under torchrun: join the process group and return this rank's device (one-line user
    errors for a set-up that cannot work). Outside torchrun: ``device``."""
    try:
        return distributed.init_from_env(device)
    except distributed.SetupError as exc:
        raise UserError(str(exc)) from None


class _Refused(Exception):
    """A cached result or checkpoint made with other numerics (device, precision, threads)."""


def user_code_name(run) -> str:
    """The run and the plugins it trains with, for an error raised by user code."""
    from modbench.plugins import is_plugin_reference

    names = [f"{kind} {run.config[kind]['name']}" for kind in ("loss", "backbone")
             if is_plugin_reference(str(run.config.get(kind, {}).get("name", "")))]
    plugins = f" ({', '.join(names)})" if names else ""
    return f"run '{run.label}' seed {run.seed} ({run.key}){plugins}"


class Runner:
    def __init__(
        self,
        store: RunStore,
        *,
        device: torch.device,
        data_dir: Path | None = None,
        download: bool = False,
        observer: Observer | None = None,
    ):
        self.store = store
        self.device = device
        self.data_dir = data_dir
        self.download = download
        self.observer = observer or Observer()
        self._data: dict[str, Any] = {}
        backend.configure(device)  # cuDNN autotuning (once per process); threads are per run

    # -- what a run computes with ------------------------------------------------------------
    def numerics_for(self, run) -> dict[str, Any]:
        """Device type, precision and the run's own CPU thread count (``cache/reuse.py``)."""
        return backend.numerics(self.device, run.config)

    def _use_threads(self, run) -> None:
        """The run's ``train.cpu_threads`` and the float32 default type, set before any of its
        code runs (a run before it, or a plugin, may have changed them: ``engine/guard.py``)."""
        from modbench.engine import guard

        guard.reset(self.numerics_for(run))

    def data_for(self, run):
        """The run's data on the device; a UserError when the dataset files found now are not
        the ones its key was computed from (``dataset.files_digest``: changed since the runs
        were planned, or planned with another data folder)."""
        return self.load_data(run.config)

    def load_data(self, config: dict[str, Any]):
        """The data of a run of ``config`` (its ``dataset`` and ``seed``) on the device."""
        import os

        from modbench.datasets.locate import data_digest
        from modbench.engine.device_data import DeviceData, data_key, load_splits

        dataset = config["dataset"]
        key = data_key(config)
        if key not in self._data:
            splits = load_splits(dataset, data_dir=self.data_dir, download=self.download, seed=config["seed"],
                                 cache_root=self.store.root)
            planned = dataset.get("files_digest")
            found = data_digest(dataset["name"], self.data_dir or os.environ.get("MODBENCH_DATA") or None)
            if found is not None and planned not in (None, found) and not (self.download and planned == "absent"):
                raise UserError(
                    f"dataset '{dataset['name']}': the files read now (digest {found}) are not the ones the "
                    f"runs were keyed by (digest {planned}); they changed while the command ran, or the runs "
                    "were planned with another --data-dir: run the command again"
                )
            self._data[key] = DeviceData(splits, self.device)
        return self._data[key]

    # -- training ----------------------------------------------------------------------------
    def train(self, runs: list, eval_cfg: dict[str, Any], *, force: bool = False) -> list[Outcome]:
        """Train every run that has no result (resuming partial ones); reuse finished ones.

        Each run is worked on under its directory's lock, so that processes sharing the cache
        train it once. A run locked by another process is put back until the others are done,
        then waited for (its result is read, not trained again), unless its holder is stopped
        or this is torchrun (never wait inside a collective): then it is skipped as missing,
        naming the holder. Outcomes keep ``runs``' order.
        """
        dist = distributed.current()
        outcomes: dict[int, Outcome] = {}
        busy = []
        for i, run in enumerate(runs):
            lock = self.store.run(run.key).lock() if dist.is_main else None
            held = dist.agree(lock.acquire(blocking=False) if lock is not None else None)
            if held:
                outcomes[i] = self._train_locked(run, lock, eval_cfg, force, dist)
                continue
            if dist.enabled:
                self.observer.message(f"{self._busy_text(run, lock)}; skipped")
                outcomes[i] = self._missing(run)
                continue
            self.observer.message(f"{self._busy_text(run, lock)}; doing the other runs first")
            busy.append((i, run, lock))
        for i, run, lock in busy:
            if self._wait_for(run, lock):
                outcomes[i] = self._train_locked(run, lock, eval_cfg, force, dist)
            else:
                outcomes[i] = self._missing(run)
        return [outcomes[i] for i in range(len(runs))]

    def _busy_text(self, run, lock) -> str:
        holder = describe_holder(lock) if lock is not None else "another modbench process"
        return f"run '{run.label}' seed {run.seed} ({run.key}) is in use by {holder}"

    def _wait_for(self, run, lock) -> bool:
        """Wait until ``lock`` is ours (True); False when its holder stays stopped."""
        if lock.acquire(blocking=False):
            return True
        self.observer.message(
            f"waiting for the other modbench process to finish run '{run.label}' seed {run.seed} "
            f"({describe_holder(lock)})"
        )
        stopped_since = None
        while not lock.acquire(blocking=False):
            if lock.holder_stopped():
                stopped_since = stopped_since or time.monotonic()
                if time.monotonic() - stopped_since >= STOPPED_HOLDER_S:
                    self.observer.message(
                        f"run '{run.label}' seed {run.seed} ({run.key}): its lock is held by "
                        f"{describe_holder(lock)}; skipped (shown as missing; resume that process or end it)"
                    )
                    return False
            else:
                stopped_since = None
            time.sleep(0.1)
        return True

    def _missing(self, run) -> Outcome:
        self.observer.run_end(run, status="missing")
        return Outcome(run, "missing")

    def _train_locked(self, run, lock, eval_cfg: dict[str, Any], force: bool, dist) -> Outcome:
        """Rank 0 decides (``_decide``), every rank follows; the lock is released at the end."""
        try:
            decision, result, failure = self._decide(run, eval_cfg, force) if dist.is_main else (None, None, None)
            decision = dist.agree(decision)
            if decision == "cached":
                self.observer.run_end(run, status="cached")
                return Outcome(run, "cached", result=result)
            if decision == "failed":  # retried only with --force or a changed configuration
                self.observer.run_end(run, status="failed")
                return Outcome(run, "failed", failure=failure)
            if decision == "refused":
                return self._missing(run)
            return self._train_one(run, eval_cfg, dist)
        finally:
            if lock is not None:
                lock.release()

    def _decide(self, run, eval_cfg: dict[str, Any], force: bool):
        """What the run needs: ("cached", result, None), ("failed", None, failure),
        ("refused", ...) or ("train", ...). Reads and cleans the cache (rank 0, lock held)."""
        run_dir = self.store.run(run.key)
        run_dir.remove_temp_files()  # left by a process killed mid-write; nobody else writes now
        if force:
            run_dir.clear()
        try:
            result = self._finished_result(run, run_dir, eval_cfg, action="training it again")
        except _Refused:
            return "refused", None, None
        if result is not None:
            return "cached", result, None
        try:
            failure = run_dir.failure()
        except CorruptFile as exc:
            self.observer.message(corrupt_notice(run, exc, "training it again"))
            run_dir.clear()
            failure = None
        if failure is not None:
            return "failed", None, failure
        return "train", None, None

    def _train_one(self, run, eval_cfg: dict[str, Any], dist) -> Outcome:
        """One run on every rank. A corrupted file met by any rank (e.g. a damaged checkpoint at
        resume, a best.pt at the final evaluation) makes rank 0 clear the run and every rank
        start it again from scratch, once."""
        from modbench.engine.train import ResumeRefused, RunFailed, train_run
        from modbench.metrics.names import check_metric_names

        # bf16 on a CPU without bf16 support: refused (exit 2) before its data is loaded
        backend.check_precision(self.device, run.config["train"].get("precision"))
        real = self.store.run(run.key)
        data = dist.main_first(self.data_for, run)  # rank 0 downloads, if anyone does
        # recall@k with k >= the test set's size is refused before anything trains (exit 2)
        mask = data.test_query_mask  # query/gallery: a query's candidates are the gallery
        check_metric_names(eval_cfg["metrics"],
                           int(data.test_y.shape[0]) if mask is None else int((~mask).sum()) + 1)
        run_dir = real if dist.is_main else real.read_only()
        self._use_threads(run)
        numerics = self.numerics_for(run)
        self.observer.run_numerics(run, numerics)
        for attempt in (1, 2):
            corrupt = None
            try:
                with running_user_code(user_code_name(run)):  # its prints to stderr; sys.exit: a RunError
                    result = train_run(
                        run, run_dir, data, eval_cfg=eval_cfg, observer=self.observer, numerics=numerics
                    )
            except RunFailed:  # every rank stops at the same step (the gradients are shared)
                return Outcome(run, "failed", failure=real.failure_or_none() if dist.is_main else None)
            except ResumeRefused as exc:
                self.observer.message(
                    f"warning: run '{run.label}' seed {run.seed} ({run.key}): its checkpoint is not resumed: "
                    f"{exc}; shown as missing (use the same settings to resume it, or --force to start again)"
                )
                return self._missing(run)
            except CorruptFile as exc:
                if attempt == 2:
                    raise
                corrupt = exc
            if not dist.any(corrupt is not None):
                return Outcome(run, "trained", result=result)
            if dist.is_main:
                self.observer.message(
                    corrupt_notice(run, corrupt or "a rank found a corrupted file", "training it again from the start")
                )
                real.clear()
            dist.barrier()
        raise AssertionError("unreachable")

    def _finished_result(self, run, run_dir, eval_cfg: dict[str, Any], *, action: str, clear: bool = True,
                         write: bool = True):
        """The verified result of a finished run (re-measured when a requested metric is
        missing), or None. A corrupted run is reported in one line and, with ``clear``,
        forgotten. A result of other numerics raises ``_Refused`` (after one message)."""
        from modbench.engine.train import evaluate_run

        try:
            result = run_dir.result(deep=True)
        except CorruptFile as exc:
            self.observer.message(corrupt_notice(run, exc, action))
            if clear:
                run_dir.clear()
            return None
        if result is None:
            return None
        reuse = reuse_of(result, eval_cfg, self.numerics_for(run))  # the one reuse rule
        if reuse.refused is not None:
            self.observer.message(
                f"warning: run '{run.label}' seed {run.seed} ({run.key}) is cached, but {reuse.refused}: "
                "not used, shown as missing (train it on that device, or --force trains it again here)"
            )
            raise _Refused
        damaged = run_dir.queries_problem(result)
        if damaged is not None:  # derived data: computed again from the checkpoint, never retrained
            self.observer.message(corrupt_notice(run, damaged, "computing its per-query records again from the checkpoint"))
            result = {**result, "files": {k: v for k, v in (result.get("files") or {}).items() if k != QUERIES}}
            reuse = reuse_of(result, eval_cfg, self.numerics_for(run))  # records missing now: evaluate
        if reuse.evaluate:
            self._use_threads(run)
            try:
                result = evaluate_run(run, run_dir, self.data_for(run), eval_cfg=eval_cfg, write=write,
                                      numerics=self.numerics_for(run), keep=result)
            except CorruptFile as exc:
                self.observer.message(corrupt_notice(run, exc, action))
                if clear:
                    run_dir.clear()
                return None
        return result

    # -- evaluation only -----------------------------------------------------------------------
    def evaluate(self, runs: list, eval_cfg: dict[str, Any], *, wait_s: float = 10.0) -> list[Outcome]:
        """Results of finished runs; a metric that is asked for and not stored is measured from
        the checkpoint and added to ``result.json`` (never removing the others). On a read-only
        cache the metrics are measured and returned without writing. Trains nothing, deletes
        nothing."""
        outcomes = []
        for run in runs:
            run_dir = self.store.run(run.key)
            lock = run_dir.lock()
            writable = True
            try:
                got = lock.acquire_within(wait_s)
            except CacheWriteError:  # a read-only cache: nobody writes it through us, read as is
                got, writable = True, False
            if not got:
                self.observer.message(
                    f"{self._busy_text(run, lock)} (still training?); shown as missing"
                )
                outcomes.append(Outcome(run, "missing"))
                continue
            try:
                try:
                    result = self._finished_result(
                        run, run_dir, eval_cfg, action="not used; `modbench train` trains it again",
                        clear=False, write=writable,
                    )
                except _Refused:
                    outcomes.append(Outcome(run, "missing"))
                    continue
                if result is not None:
                    outcomes.append(Outcome(run, "cached", result=result))
                elif run_dir.status() == "failed":
                    outcomes.append(Outcome(run, "failed", failure=run_dir.failure_or_none()))
                else:
                    outcomes.append(Outcome(run, "missing"))
            finally:
                lock.release()
        return outcomes
