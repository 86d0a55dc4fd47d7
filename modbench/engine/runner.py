"""Running a list of runs against the cache: train what is missing, reuse what is done.

Datasets are loaded once per process and kept on the device for every run that uses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from modbench.cache.atomic import CacheWriteError
from modbench.cache.store import CorruptFile, RunStore
from modbench.engine import distributed
from modbench.engine.events import Observer, corrupt_notice
from modbench.errors import UserError


@dataclass
class Outcome:
    run: Any  # RunSpec
    status: str  # "trained" | "cached" | "failed" | "missing"
    result: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available here; use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise UserError(f"--device {name}: choose auto, cpu or cuda")
    return torch.device(name)


def _eval_matches(result: dict[str, Any], eval_cfg: dict[str, Any]) -> bool:
    stored = result.get("eval") or {}
    keys = ("metrics", "kmeans_seed", "kmeans_n_init")
    return all(stored.get(k) == eval_cfg.get(k) for k in keys)


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
        from modbench.engine import backend

        backend.configure(device)  # CPU threads, cuDNN autotuning (once per process)

    def data_for(self, run):
        from modbench.engine.data import DeviceData, load_splits
        from modbench.suite.runs import canonical_json

        key = canonical_json(run.config["dataset"])
        if key not in self._data:
            splits = load_splits(run.config["dataset"], data_dir=self.data_dir, download=self.download)
            self._data[key] = DeviceData(splits, self.device)
        return self._data[key]

    def train(self, runs: list, eval_cfg: dict[str, Any], *, force: bool = False) -> list[Outcome]:
        """Train every run that has no result (resuming partial ones); reuse finished ones.

        Each run is worked on under its directory's lock, so that processes sharing the cache
        train it once. A run locked by another process is put back until the others are done,
        then waited for: its result is read, not trained again. Outcomes keep ``runs``' order.
        """
        if distributed.current().enabled:  # under torchrun: every rank trains the same runs
            return distributed.train_runs(self, runs, eval_cfg, force=force)
        outcomes: dict[int, Outcome] = {}
        busy = []
        for i, run in enumerate(runs):
            lock = self.store.run(run.key).lock()
            if lock.acquire(blocking=False):
                outcomes[i] = self._train_locked(run, lock, eval_cfg, force)
            else:
                self.observer.message(
                    f"run '{run.label}' seed {run.seed} ({run.key}) is in use by another modbench "
                    "process; doing the other runs first"
                )
                busy.append((i, run, lock))
        for i, run, lock in busy:
            if not lock.acquire(blocking=False):
                self.observer.message(
                    f"waiting for the other modbench process to finish run '{run.label}' seed {run.seed}"
                )
                lock.acquire()
            outcomes[i] = self._train_locked(run, lock, eval_cfg, force)
        return [outcomes[i] for i in range(len(runs))]

    def _train_locked(self, run, lock, eval_cfg: dict[str, Any], force: bool) -> Outcome:
        from modbench.engine.train import RunFailed, train_run

        try:
            run_dir = self.store.run(run.key)
            run_dir.remove_temp_files()  # left by a process killed mid-write; nobody else writes now
            if force:
                run_dir.clear()
            result = self._finished_result(run, run_dir, eval_cfg, action="training it again")
            if result is not None:
                self.observer.run_end(run, status="cached")
                return Outcome(run, "cached", result=result)
            try:
                failure = run_dir.load_failed()
            except CorruptFile as exc:
                self.observer.message(corrupt_notice(run, exc, "training it again"))
                run_dir.clear()
                failure = None
            if failure is not None:  # retried only with --force or a changed configuration
                self.observer.run_end(run, status="failed")
                return Outcome(run, "failed", failure=failure)
            try:
                try:
                    result = train_run(run, run_dir, self.data_for(run), eval_cfg=eval_cfg, observer=self.observer)
                except CorruptFile as exc:  # e.g. a damaged best.pt met at the final evaluation
                    self.observer.message(corrupt_notice(run, exc, "training it again from the start"))
                    run_dir.clear()
                    result = train_run(run, run_dir, self.data_for(run), eval_cfg=eval_cfg, observer=self.observer)
            except RunFailed:
                return Outcome(run, "failed", failure=run_dir.read_failed())
            return Outcome(run, "trained", result=result)
        finally:
            lock.release()

    def _finished_result(self, run, run_dir, eval_cfg: dict[str, Any], *, action: str, clear: bool = True):
        """The verified result of a finished run (re-measured when the requested metrics
        differ), or None. A corrupted run is reported in one line and, with ``clear``, forgotten."""
        from modbench.engine.train import evaluate_run

        try:
            result = run_dir.load_result(deep=True)
            if result is not None and not _eval_matches(result, eval_cfg):
                result = evaluate_run(run, run_dir, self.data_for(run), eval_cfg=eval_cfg)
            return result
        except CorruptFile as exc:
            self.observer.message(corrupt_notice(run, exc, action))
            if clear:
                run_dir.clear()
            return None

    def evaluate(self, runs: list, eval_cfg: dict[str, Any], *, wait_s: float = 10.0) -> list[Outcome]:
        """Results of finished runs (re-measured from the checkpoint when the requested metrics
        differ from the stored ones); trains nothing and deletes nothing."""
        outcomes = []
        for run in runs:
            run_dir = self.store.run(run.key)
            lock = run_dir.lock()
            try:
                got = lock.acquire_within(wait_s)
            except CacheWriteError:  # a read-only cache: nobody writes it through us, read as is
                got = True
            if not got:
                self.observer.message(
                    f"run '{run.label}' seed {run.seed} ({run.key}) is in use by another modbench "
                    "process (still training?); shown as missing"
                )
                outcomes.append(Outcome(run, "missing"))
                continue
            try:
                result = self._finished_result(
                    run, run_dir, eval_cfg, action="not used; `modbench train` trains it again", clear=False
                )
                if result is not None:
                    outcomes.append(Outcome(run, "cached", result=result))
                elif run_dir.status() == "failed":
                    outcomes.append(Outcome(run, "failed", failure=run_dir.read_failed()))
                else:
                    outcomes.append(Outcome(run, "missing"))
            finally:
                lock.release()
        return outcomes
