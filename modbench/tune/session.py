"""What one ``modbench tune`` command does, apart from printing: load the suite, open the
studies, run their trials in this process (``tune_here``), read the results. Other processes
(``--jobs`` workers, SLURM jobs) run the same loop through ``jobs.py``.

``TuneSpec`` is everything a process needs to take part in the tuning of a suite (picklable:
local worker processes and SLURM jobs rebuild the session from it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from modbench.cache.store import RunStore, ensure_writable
from modbench.errors import UserError
from modbench.metrics.names import parse_metric_names
from modbench.suite.loader import load_suite, locate_suite, read_yaml
from modbench.suite.runs import apply_overrides, with_data_digest
from modbench.suite.tune_section import check_tune_section
from modbench.tune.study import default_storage, open_storage, open_study, run_budget, tally
from modbench.tune.trials import trial_run
from modbench.tune.tuner import TrialExecutor, best_of, targets

# Imports inside functions here: optuna (through tune.pruning and tune.study's storage), the
# engine and torch are imported when trials run; a tuning spec is built and pickled for workers
# without them.


@dataclass(frozen=True)
class TuneSpec:
    suite_ref: str
    losses: tuple[str, ...] = ()
    trials: int = 20
    metric: str = "map@r"
    pruner: str = "asha"
    epochs: int | None = None
    subset: int | None = None
    storage: str | None = None  # a URL; None: <cache>/tune/<suite>.db
    cache_root: str = ""
    data_dir: str | None = None
    download: bool = False
    device: str = "auto"


@dataclass
class Session:
    spec: TuneSpec
    suite: Any
    source: str
    raw: dict
    targets: list
    storage_url: str
    eval_cfg: dict
    _storage: Any = field(default=None, repr=False)

    @property
    def storage(self):
        if self._storage is None:
            self._storage = open_storage(self.storage_url)
        return self._storage

    def study(self, target):
        return open_study(self.storage, target.study_name, pruner=self.spec.pruner, epochs=self.suite.train.epochs)


def open_session(spec: TuneSpec) -> Session:
    """Load and check everything (one-line errors, exit 2) before any trial starts."""
    from modbench.tune.pruning import PRUNERS
    (metric,) = parse_metric_names([spec.metric])
    if metric != spec.metric:
        spec = TuneSpec(**{**spec.__dict__, "metric": metric})
    if spec.pruner not in PRUNERS:
        raise UserError(f"--pruner {spec.pruner}: choose {', '.join(PRUNERS)}")
    suite, source = load_suite(spec.suite_ref)
    check_tune_section(suite, source)
    if suite.tuned is not None:
        raise UserError(
            f"{source}: this suite was written by `modbench tune` (it has a tuned: section); "
            f"tune its source, {suite.tuned.source}, instead"
        )
    raw = read_yaml(locate_suite(spec.suite_ref))
    suite = with_data_digest(apply_overrides(suite, epochs=spec.epochs, subset=spec.subset), spec.data_dir)
    chosen = targets(suite, source, losses=list(spec.losses) or None, metric=metric, pruner=spec.pruner)
    url = spec.storage or default_storage(Path(spec.cache_root), suite.name)
    return Session(spec, suite, source, raw, chosen, url, suite.eval.model_dump(mode="json"))


def make_trial_runner(spec: TuneSpec, observer=None):
    from modbench.engine.runner import resolve_device
    from modbench.tune.runner import TrialRunner

    root = Path(spec.cache_root)
    ensure_writable(root)
    return TrialRunner(
        RunStore(root),
        device=resolve_device(spec.device),
        data_dir=Path(spec.data_dir) if spec.data_dir else None,
        download=spec.download,
        observer=observer,
    )


def tune_here(session: Session, runner, *, say: Callable[[str], None] = lambda t: None,
              max_new: int | None = None, wait: bool = True, only: list[int] | None = None, progress=None) -> int:
    """Run trials of each study in this process until its budget is counted. Returns the number
    of trials run here."""
    ran = 0
    for i, target in enumerate(session.targets):
        if only is not None and i not in only:
            continue
        study = session.study(target)
        execute = TrialExecutor(study, session.suite, session.source, target, runner, session.eval_cfg,
                                session.spec.metric, say=say, progress=progress)
        ran += run_budget(study, session.spec.trials, execute, storage=session.storage, max_new=max_new, wait=wait)
    return ran


def missing_trials(session: Session) -> list[int]:
    """One entry per trial the studies still lack to count their budget (running ones of other
    processes count as taken): the index of its study in ``session.targets``."""
    missing = []
    for i, target in enumerate(session.targets):
        t = tally(session.study(target))
        missing += [i] * max(0, session.spec.trials - t.done - t.running)
    return missing


def trials_to_run(session: Session) -> int:
    """Trials the studies still lack to count their budget: the most ``--jobs`` processes that
    can have work."""
    return len(missing_trials(session))


def results(session: Session) -> list[tuple[Any, dict]]:
    return [(t, best_of(session.study(t), session.spec.trials)) for t in session.targets]


def preload_data(session: Session, runner) -> None:
    """Load the data once before any trial (missing files: one line, exit 2; nothing starts)."""
    if session.targets:
        runner.data_for(trial_run(session.suite, session.source, session.targets[0].setting, {}))
