"""Running a list of runs against the cache: train what is missing, reuse what is done.

Datasets are loaded once per process and kept on the device for every run that uses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from modbench.cache.store import RunStore
from modbench.engine.events import Observer
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
        """Train every run that has no result (resuming partial ones); reuse finished ones."""
        from modbench.engine.train import RunFailed, evaluate_run, train_run

        outcomes = []
        for run in runs:
            run_dir = self.store.run(run.key)
            if force:
                run_dir.clear()
            status = run_dir.status()
            if status == "done":
                result = run_dir.read_result()
                if not _eval_matches(result, eval_cfg):
                    result = evaluate_run(run, run_dir, self.data_for(run), eval_cfg=eval_cfg)
                outcomes.append(Outcome(run, "cached", result=result))
                continue
            if status == "failed":
                outcomes.append(Outcome(run, "failed", failure=run_dir.read_failed()))
                continue
            try:
                result = train_run(run, run_dir, self.data_for(run), eval_cfg=eval_cfg, observer=self.observer)
            except RunFailed:
                outcomes.append(Outcome(run, "failed", failure=run_dir.read_failed()))
                continue
            outcomes.append(Outcome(run, "trained", result=result))
        return outcomes

    def evaluate(self, runs: list, eval_cfg: dict[str, Any]) -> list[Outcome]:
        """Results of finished runs (re-measured from the checkpoint when the requested metrics
        differ from the stored ones); trains nothing."""
        from modbench.engine.train import evaluate_run

        outcomes = []
        for run in runs:
            run_dir = self.store.run(run.key)
            status = run_dir.status()
            if status == "done":
                result = run_dir.read_result()
                if not _eval_matches(result, eval_cfg):
                    result = evaluate_run(run, run_dir, self.data_for(run), eval_cfg=eval_cfg)
                outcomes.append(Outcome(run, "cached", result=result))
            elif status == "failed":
                outcomes.append(Outcome(run, "failed", failure=run_dir.read_failed()))
            else:
                outcomes.append(Outcome(run, "missing"))
        return outcomes
