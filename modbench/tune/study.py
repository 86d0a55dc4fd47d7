"""One Optuna study per loss: storage, sampler, pruner, and the equal trial budget.

Storage is Optuna's RDB storage: by default one SQLite file per suite in the cache,
``<cache>/tune/<suite>.db``; ``--storage URL`` names a PostgreSQL or MySQL server that several
machines share. Every finished trial is in the database the moment it is told, so a killed
``tune`` loses at most the epochs of the trials it was running, and those resume from their
runs' checkpoints (the trial is retried with the same parameters, hence the same run).

The budget: a study is done when ``budget`` trials are *counted*: complete, pruned, or failed
because their run diverged (a non-finite loss is a result of that setting, not an accident).
Several processes on one study (``--jobs``, ``--launcher slurm``, two shells) share the budget:
each claims a trial with ``study.ask()`` (Optuna gives every trial to one process), then checks
that fewer than ``budget`` counted-or-running trials precede it; a trial past the budget is
marked failed (user attribute ``over_budget``) before anything trains. A trial whose process
died is found by its heartbeat (Optuna's, every ``HEARTBEAT_S``), or at once when its owner was
a process of this machine that no longer exists, and is retried with the same parameters.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from modbench.cache.atomic import CacheWriteError
from modbench.cache.lock import RunLock
from modbench.errors import UserError

# Imports inside functions here: optuna and SQLAlchemy are imported when a study is opened; names
# and URLs are handled without them.

HEARTBEAT_S = 30
GRACE_S = 120
POLL_S = 2.0
HOST = socket.gethostname()


# -- storage ------------------------------------------------------------------------------------
def safe_file_name(name: str) -> str:
    """A suite name as a file name: other characters become ``_`` (plus a short hash then, so
    that two names never share a file)."""
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:80].lstrip(".") or "suite"
    if clean != name:
        clean += "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return clean


def default_storage(cache_root: Path, suite_name: str) -> str:
    path = Path(cache_root) / "tune" / f"{safe_file_name(suite_name)}.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def in_memory_storage(url: str) -> bool:
    """Whether ``url`` names an SQLite database in memory (``sqlite://``,
    ``sqlite:///:memory:``, with or without a driver or query): one per process, never shared."""
    match = re.match(r"^sqlite(\+\w+)?://(.*)$", url.strip())
    if match is None:
        return False
    rest = match.group(2).split("?", 1)[0]
    return rest in ("", "/", "/:memory:") or rest.startswith("/file::memory:")


def shown_url(url: str) -> str:
    """The storage URL without its password, for messages and the tuned suite."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL SQLAlchemy cannot parse is reported by open_storage
        return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def quiet_optuna() -> None:
    """No per-trial INFO lines from Optuna (``tune`` prints its own), and no warnings about the
    heartbeat API being experimental or used with ask-and-tell (which is how it is used here)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")


@contextlib.contextmanager
def _creation_lock(url: str):
    """For a SQLite file: an exclusive lock on ``<file>.lock`` (``cache.lock.RunLock``, the
    cache's own flock) while the storage is opened, so that processes started together do not
    all create its tables at once (SQLAlchemy's ``create_all`` checks, then creates: the loser of
    that race failed with "table studies already exists"). Other databases, an in-memory one, a
    ``file:`` URI, a missing or read-only folder: no lock (their retries below; open_storage
    reports the real problem). A lock file this call created is removed again when the database
    cannot be opened, so that a mistyped ``--storage`` leaves nothing behind."""
    database = url[len("sqlite:///"):].split("?", 1)[0] if url.startswith("sqlite:///") else ""
    if database in ("", ":memory:") or database.startswith("file:"):
        yield
        return
    path = Path(f"{database}.lock")
    created = not os.path.lexists(path)
    lock = RunLock(path)
    try:
        held = path.parent.is_dir() and lock.acquire()
    except CacheWriteError:
        held = False
    try:
        yield
    except BaseException:
        if held and created:
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    finally:
        if held:
            lock.release()


def _creation_race(exc: Exception) -> bool:
    text = type(exc).__name__ + str(exc)[:300]
    return "IntegrityError" in text or "already exists" in text or "Duplicate" in text


def open_storage(url: str):
    import optuna

    quiet_optuna()
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Processes sharing the file wait for its lock instead of failing at once.
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 120}}
    try:
        for attempt in range(6):
            try:
                with _creation_lock(url):
                    return optuna.storages.RDBStorage(
                        url,
                        heartbeat_interval=HEARTBEAT_S,
                        grace_period=GRACE_S,
                        heartbeat_stale_trial_callback=_retry_stale,
                        **kwargs,
                    )
            except Exception as exc:  # noqa: BLE001 - two processes creating the tables at once
                if attempt == 5 or not _creation_race(exc):
                    raise
                time.sleep(0.5 * (attempt + 1))
    except ImportError as exc:
        raise UserError(f"--storage {shown_url(url)}: the database driver is not installed ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy's errors for bad URLs and refused connections
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"--storage {shown_url(url)}: cannot open the study database ({first[:160]})") from None


# -- studies ------------------------------------------------------------------------------------
STARTUP_TRIALS = 5  # TPE's random start-up trials: a study of at most this many is random search
PRUNE_FROM_TRIALS = 20  # --pruner's default: asha from this many trials per loss, none below
PRUNER_FIELD = " | pruner "


def default_pruner(trials: int) -> str:
    """``--pruner``'s default: pruning judges a setting by its first epochs, which is biased
    against losses that learn slowly; only a study of at least ``PRUNE_FROM_TRIALS`` trials has
    trials enough to spare for that. Below: ``none``."""
    return "asha" if trials >= PRUNE_FROM_TRIALS else "none"  # the last field of a study's name (tuner.study_name)


def sampler_seed(study_name: str) -> int:
    """From the study's name without its pruner field."""
    problem = study_name.rsplit(PRUNER_FIELD, 1)[0]
    return int(hashlib.sha256(problem.encode()).hexdigest()[:8], 16)


def make_sampler(study_name: str, number: int):
    """TPE seeded by the study's name and the trial's number: a trial's draw is reproducible,
    and two processes drawing trials 4 and 5 at once never draw the same parameters (one seed
    per process would give them the same first draws). ``constant_liar``: running trials count
    as bad results, so parallel trials spread out."""
    import optuna

    return optuna.samplers.TPESampler(seed=(sampler_seed(study_name) + number) % 2**32, n_startup_trials=STARTUP_TRIALS,
                                      constant_liar=True)


def open_study(storage, name: str, *, pruner: str, epochs: int | None = None):
    """Create or load the study ``name`` (maximising), with a TPE sampler (``make_sampler``) and
    the pruner ``pruner`` for trials of ``epochs`` epochs (``pruning.make_pruner``)."""
    import optuna

    from modbench.tune.pruning import make_pruner

    sampler = make_sampler(name, 0)
    for _ in range(5):  # two processes creating one study at once: the loser loads it
        try:
            return optuna.create_study(
                storage=storage, study_name=name, direction="maximize", sampler=sampler,
                pruner=make_pruner(pruner, epochs), load_if_exists=True,
            )
        except optuna.exceptions.DuplicatedStudyError:
            time.sleep(0.2)
    return optuna.load_study(storage=storage, study_name=name, sampler=sampler, pruner=make_pruner(pruner, epochs))


# -- trials of other processes ---------------------------------------------------------------
# Only Optuna's public API: the study's ``tell`` (which takes a trial number, so any process can
# fail a trial another one asked), ``Trial.set_user_attr``, ``enqueue_trial``, and the storage
# object this module opened (``open_storage``) for heartbeats.
def retry_trial(study, number: int, params: dict[str, Any], reason: str = "") -> None:
    """Enqueue trial ``number``'s parameters again (its process died, or it was interrupted):
    the retry trains the same run, resuming from its checkpoint. The parameters are kept in the
    retry's user attributes too (``retry_params``), so that a retry which loses its place in the
    budget can be enqueued again without reading Optuna's internal attributes."""
    if params:
        attrs: dict[str, Any] = {"retry_of": number, "retry_params": dict(params)}
        if reason:
            attrs["retry_reason"] = reason
        study.enqueue_trial(dict(params), user_attrs=attrs)


def _retry_stale(study, frozen) -> None:
    """Optuna's heartbeat callback: a trial of another machine whose heartbeat stopped."""
    retry_trial(study, frozen.number, frozen.params, "its heartbeat stopped")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_stale(study) -> list[int]:
    """Fail (and retry) the running trials whose process is gone: of this machine at once (the
    owner's pid no longer exists), of other machines once their heartbeat is older than
    ``GRACE_S`` (Optuna's ``fail_stale_trials``). Returns the numbers of the trials retried."""
    import optuna
    from optuna.trial import TrialState

    retried = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = t.user_attrs.get("owner") or {}
        if owner.get("host") == HOST and isinstance(owner.get("pid"), int) and owner["pid"] != os.getpid():
            if not _pid_alive(owner["pid"]):
                try:
                    study.tell(t.number, state=TrialState.FAIL)
                except Exception:  # noqa: BLE001 - another process failed it first: it retries it
                    continue
                retry_trial(study, t.number, t.params, "its process was gone")
                retried.append(t.number)
    optuna.storages.fail_stale_trials(study)
    return retried


def trial_id(storage, study, number: int) -> int:
    """The storage's id of trial ``number`` of ``study`` (public storage calls only)."""
    return storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study.study_name), number)


class Heartbeat:
    """Records the trial's heartbeat every ``HEARTBEAT_S`` seconds in a thread while it runs
    (Optuna does this itself only inside ``Study.optimize``, which ask-and-tell does not use)."""

    def __init__(self, storage, trial_id: int):
        self.storage, self.trial_id = storage, trial_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def beat(self) -> None:
        try:
            self.storage.record_heartbeat(self.trial_id)
        except Exception:  # noqa: BLE001 - a missed beat is retried; the trial goes on
            pass

    def _loop(self):
        while not self._stop.wait(HEARTBEAT_S):
            self.beat()

    def __enter__(self):
        self.beat()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)


# -- the budget -------------------------------------------------------------------------------
def counted(t) -> bool:
    from optuna.trial import TrialState

    return t.state in (TrialState.COMPLETE, TrialState.PRUNED) or (
        t.state == TrialState.FAIL and bool(t.user_attrs.get("counted"))
    )


@dataclass
class Tally:
    complete: int = 0
    pruned: int = 0
    diverged: int = 0
    running: int = 0
    waiting: int = 0
    numbers: list[int] = field(default_factory=list)  # counted trials

    @property
    def done(self) -> int:
        return self.complete + self.pruned + self.diverged


def tally(study) -> Tally:
    from optuna.trial import TrialState

    out = Tally()
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.COMPLETE:
            out.complete += 1
        elif t.state == TrialState.PRUNED:
            out.pruned += 1
        elif t.state == TrialState.FAIL and t.user_attrs.get("counted"):
            out.diverged += 1
        elif t.state == TrialState.RUNNING:
            out.running += 1
        elif t.state == TrialState.WAITING:
            out.waiting += 1
        if counted(t):
            out.numbers.append(t.number)
    return out


def within_budget(study, number: int, budget: int) -> bool:
    """Whether trial ``number`` is one of the first ``budget`` counted-or-running trials."""
    from optuna.trial import TrialState

    claims = sorted(
        t.number for t in study.get_trials(deepcopy=False) if counted(t) or t.state == TrialState.RUNNING
    )
    return number in claims[:budget]


def run_budget(
    study,
    budget: int,
    run_trial: Callable[[Any], None],
    *,
    storage,
    max_new: int | None = None,
    wait: bool = True,
    poll_s: float = POLL_S,
) -> int:
    """Ask and run trials until ``budget`` are counted (``max_new`` at most, in this process).
    ``run_trial(trial)`` runs one and tells the study; ``storage`` is the study's storage (from
    ``open_storage``: the heartbeats go there). With ``wait``, this process waits for the other
    processes' running trials when they complete the budget. Returns the trials run here."""
    from optuna.trial import TrialState

    mine = 0
    while max_new is None or mine < max_new:
        recover_stale(study)
        t = tally(study)
        if t.done >= budget:
            break
        if t.done + t.running >= budget and not t.waiting:
            if not wait:
                break
            time.sleep(poll_s)  # the other processes' trials finish the budget (or die: retried)
            continue
        trial = study.ask()
        trial.set_user_attr("owner", {"host": HOST, "pid": os.getpid()})
        if not within_budget(study, trial.number, budget):
            # Another process took the last place at the same moment: give the place back.
            trial.set_user_attr("over_budget", True)
            retried = trial.user_attrs.get("retry_params")
            study.tell(trial, state=TrialState.FAIL)
            if retried:  # an enqueued retry keeps its parameters for whoever is next
                retry_trial(study, trial.user_attrs.get("retry_of"), retried, trial.user_attrs.get("retry_reason", ""))
            continue
        study.sampler = make_sampler(study.study_name, trial.number)  # before any suggest_*
        with Heartbeat(storage, trial_id(storage, study, trial.number)):
            run_trial(trial)
        mine += 1
    return mine
