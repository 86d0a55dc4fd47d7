"""From a validated suite to the list of runs it stands for.

A loss entry whose parameters hold lists is a sweep: every combination becomes one loss setting,
labelled by its values; identical settings (also across entries) become one. Each loss setting
times each seed is one run, identified by the hash of its fully resolved configuration (dataset,
backbone, training settings, loss and parameters with defaults filled, seed). Display labels and
suite names are not part of the hash, so suites that share a run share its cache entry.

A row of a table is one label, so two different settings never share one: an automatic label
(the loss name) is extended by the parameters that tell the settings apart; two entries whose
own labels would collide are refused.

``load_suite`` (loader.py) expands a suite once and keeps the settings on it; ``resolve_runs``
reuses them, and each ``RunSpec`` carries its validated parameter model (``RunSpec.params``).
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import itertools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from modbench.canonical import canonical_json  # noqa: F401 (also imported from here)
from modbench.datasets.locate import ABSENT, data_digest
from modbench.errors import UnknownNameError, UserError, closest
from modbench.identity import code_identity
from modbench.suite.errors import Problems, SuiteError, validation_problems
from modbench.suite.keys import config_key
from modbench.suite.references import loss_params_model
from modbench.suite.schema import Suite

MAX_SWEEP = 10_000  # loss settings one suite entry may expand to
MAX_RUNS = 10_000  # runs (loss settings x seeds) one suite may stand for
PROTOCOL_VERSION = 2  # bump when a change to the engine makes old cached runs incomparable
# 2: epoch plans drawn per epoch (new m-per-class sampler, crop draws), channels-last and fused
#    optimizers on the CPU: the same seed trains on other batches and numerics than under 1.


@dataclass(frozen=True)
class LossSetting:
    name: str
    label: str
    model: BaseModel  # the validated parameter model, defaults filled in
    swept: dict[str, Any] = field(default_factory=dict)
    entry: int = 0  # index in the suite's ``losses``
    own_label: bool = False  # the label was written in the suite (not made from the name)
    lr: float | None = None  # the entry's own learning rate (LossEntry.lr), else train.lr
    optimizer: str | None = None  # the entry's own optimizer (LossEntry.optimizer), else train.optimizer

    @property
    def params(self) -> dict[str, Any]:
        """The resolved parameters as JSON values (what the run key hashes)."""
        return self.model.model_dump(mode="json")


@dataclass(frozen=True)
class RunSpec:
    """One run: the typed, frozen form every command plans, trains, caches and reports.

    ``config`` is the run's fully resolved configuration (``run_config``) and ``key`` the hash of
    its canonical JSON (``config_key``), computed here from ``config`` whenever a RunSpec is made
    (``dataclasses.replace`` and ``with_config`` included): a key passed beside it is ignored. Only
    a run read back from the cache (``from_cache``, ``RunSpec.cached``) is named by its folder.
    """

    suite: str
    label: str
    loss: str
    seed: int
    config: dict[str, Any]
    key: str = ""
    swept: dict[str, Any] = field(default_factory=dict)
    # The validated parameter model of the loss, so that nothing validates it again. It travels
    # to ``--jobs`` workers (pickle) when its class is importable by name; the class of a
    # ``pml:`` or plugin model is made at run time, and there the worker's build_loss validates
    # ``config["loss"]["params"]`` instead.
    params: BaseModel | None = field(default=None, compare=False, repr=False)
    # The suite's plugin references, resolved at load (``plugins.PluginRef``): where the engine,
    # also in a worker process, finds a user's loss or backbone file without the suite's folder.
    references: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    from_cache: bool = field(default=False, compare=False, repr=False)  # read back: ``key`` names its folder

    def __post_init__(self):
        if not (self.from_cache and self.key):
            object.__setattr__(self, "key", config_key(self.config))

    @classmethod
    def cached(cls, *, suite: str, label: str, loss: str, config: dict[str, Any], key: str) -> "RunSpec":
        """A run read back from the cache: its configuration as recorded, named by its folder."""
        return cls(suite=suite, label=label, loss=loss, seed=config["seed"], config=config, key=key, from_cache=True)

    def with_config(self, **sections: Any) -> "RunSpec":
        """This run with ``sections`` of its configuration replaced (or added), keyed anew."""
        return dataclasses.replace(self, config={**self.config, **sections}, from_cache=False)

    def __getstate__(self):
        state = dict(self.__dict__)
        if state.get("params") is not None and not _importable(type(state["params"])):
            state["params"] = None
        return state

    @property
    def dataset(self) -> str:
        return self.config["dataset"]["name"]

    @property
    def backbone(self) -> str:
        return self.config["backbone"]["name"]


def _importable(cls: type) -> bool:
    """Whether pickle can find ``cls`` again by its module and name."""
    try:
        obj = importlib.import_module(cls.__module__)
        for part in cls.__qualname__.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return False
    return obj is cls


def _format_value(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _values(params: dict[str, Any], keys) -> str:
    return ", ".join(f"{k}={_format_value(params.get(k, '-'))}" for k in keys)


def _entry_settings(i: int, entry, params_model, source: str) -> list[LossSetting]:
    """The settings of one loss entry: each sweep combination validated as it will train."""
    swept_keys = [k for k, v in entry.params.items() if isinstance(v, list)]
    for key in swept_keys:
        if not entry.params[key]:
            raise SuiteError(source, f"losses[{i}].params.{key}", "a sweep needs at least one value")
    grids = [entry.params[k] for k in swept_keys]
    combinations = math.prod(len(g) for g in grids)
    if combinations > MAX_SWEEP:
        raise SuiteError(
            source, f"losses[{i}].params",
            f"the sweep has {combinations} combinations, more than {MAX_SWEEP}; list fewer values",
        )
    settings = []
    for combo in itertools.product(*grids):
        swept = dict(zip(swept_keys, combo))
        try:
            model = params_model.model_validate({**entry.params, **swept})
        except ValidationError as exc:
            problems = validation_problems(exc, params_model)
            if swept:
                shown = repr(swept)
                shown = shown if len(shown) <= 80 else shown[:77] + "..."
                problems = [(p, m + f" (in the sweep combination {shown})") for p, m in problems]
            # a problem of the whole mapping (a plugin's own key check) has an empty key path
            raise SuiteError(source, problems=[(f"losses[{i}].params" + (f".{p}" if p else ""), m)
                                               for p, m in problems]) from None
        label = entry.label or entry.name
        if swept:
            label = f"{label} ({_values(swept, swept)})"
        settings.append(LossSetting(entry.name, label, model, swept, i, entry.label is not None, entry.lr,
                                    entry.optimizer))
    return settings


def _distinct_labels(settings: list[LossSetting], source: str) -> list[LossSetting]:
    """Give every setting its own label: automatic labels that collide are extended by the
    parameters in which the colliding settings differ; labels the suite wrote that collide are
    refused, naming both entries."""
    groups: dict[str, list[LossSetting]] = {}
    for s in settings:
        groups.setdefault(s.label, []).append(s)
    renamed: dict[int, LossSetting] = {}
    for label, group in groups.items():
        if len(group) == 1:
            continue
        own = [s for s in group if s.own_label]
        if len(own) > 1:
            a, b = own[0], own[1]
            raise SuiteError(
                source, f"losses[{b.entry}].label",
                f"'{label}' is also the label of losses[{a.entry}], a different configuration; "
                "a row shows one configuration: give each entry its own label",
            )
        if len({s.name for s in group}) > 1:  # a written label that is another loss's name
            first = group[0]
            second = next(s for s in group if s.name != first.name)
            first, second = sorted((first, second), key=lambda x: x.entry)
            raise SuiteError(
                source, f"losses[{second.entry}]",
                f"its label '{label}' is also the label of losses[{first.entry}], another loss; "
                "set 'label' on one of them",
            )
        params = [s.params for s in group]
        keys = list(dict.fromkeys(k for p in params for k in p))
        differing = [k for k in keys if len({canonical_json(p.get(k)) for p in params}) > 1]
        for s in group:
            if s.own_label:
                continue
            shown = list(dict.fromkeys([*s.swept, *differing]))
            new_label = f"{s.name} ({_values(s.params, shown)})" if shown else s.name
            renamed[id(s)] = dataclasses.replace(s, label=new_label)
    out = [renamed.get(id(s), s) for s in settings]
    seen: dict[str, LossSetting] = {}
    for s in out:
        if s.label in seen:
            other = seen[s.label]
            first, second = sorted((other, s), key=lambda x: x.entry)
            raise SuiteError(
                source, f"losses[{second.entry}]",
                f"its label '{s.label}' is also the label of losses[{first.entry}], a different "
                "configuration; set 'label' on one of them",
            )
        seen[s.label] = s
    return out


def expand_losses(suite: Suite, source: str) -> list[LossSetting]:
    """Every distinct loss setting of the suite, parameters validated against the loss, labels
    distinct. Problems of different entries are all reported at once (SuiteError)."""
    settings = expand_entries(enumerate(suite.losses), source, suite.references)
    settings = _distinct_labels(settings, source)
    check_run_count(len(settings), len(suite.seeds), source)
    return settings


def expand_entries(entries, source: str, references=None) -> list[LossSetting]:
    """The distinct settings of ``(index, LossEntry)`` pairs; SuiteError with every entry's
    problems (unknown loss, parameters, sweep size). ``references``: the plugin references
    resolved at load (``Suite.references``)."""
    problems = Problems(source)
    settings: list[LossSetting] = []
    seen: set[str] = set()
    for i, entry in entries:
        try:
            params_model = loss_params_model(entry.name, references)
        except UnknownNameError as exc:
            problems.add(f"losses[{i}].name", str(exc))
            continue
        try:
            entry_settings = _entry_settings(i, entry, params_model, source)
        except SuiteError as exc:
            problems.extend(exc)
            continue
        for setting in entry_settings:
            identity = canonical_json({"name": setting.name, "params": setting.params, "lr": setting.lr,
                                       "optimizer": setting.optimizer})
            if identity not in seen:
                seen.add(identity)
                settings.append(setting)
    problems.raise_if_any()
    return settings


def check_run_count(settings: int, seeds: int, source: str) -> None:
    if settings * seeds > MAX_RUNS:
        raise SuiteError(
            source, "losses",
            f"{settings} loss setting(s) x {seeds} seed(s) = {settings * seeds} runs, more than "
            f"{MAX_RUNS}; list fewer sweep values or seeds",
        )


def loss_train(setting: LossSetting) -> dict[str, Any]:
    """The ``train`` settings a loss entry sets for its own runs (``lr``, ``optimizer``)."""
    return {k: v for k, v in (("lr", setting.lr), ("optimizer", setting.optimizer)) if v is not None}


def run_config(suite: Suite, setting: LossSetting, seed: int, code: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run's resolved configuration; ``code``: its ``code_identity`` when the caller has it
    (the same loss and backbone for every seed of a setting)."""
    return {
        "protocol": PROTOCOL_VERSION,
        "dataset": suite.dataset.model_dump(mode="json"),
        "backbone": suite.backbone.model_dump(mode="json"),
        "train": suite.train.model_dump(mode="json") | loss_train(setting),
        "loss": {"name": setting.name, "params": setting.params},
        "seed": seed,
        "code": code if code is not None else code_identity(setting.name, suite.backbone.name, suite.references),
    }


def apply_overrides(
    suite: Suite, *, epochs: int | None = None, subset: int | None = None, seeds: list[int] | None = None,
    source: str | None = None, test_subset: int | None = None, threads: int | None = None,
    precision: str | None = None,
) -> Suite:
    """The suite with command-line overrides applied (overridden runs hash differently).

    ``threads`` (``--threads``) sets ``train.cpu_threads`` where the suite leaves it at its
    default; a suite that writes another count refuses it (UserError): its runs are defined
    with that count. The overridden suite is validated like the file (bounds included): a bad
    value raises the SuiteError of the key it replaces, saying it came from an override."""
    data = suite.model_dump()
    given: dict[str, str] = {}
    if threads is not None:
        written = "cpu_threads" in suite.train.model_fields_set
        if written and suite.train.cpu_threads != threads:
            raise UserError(
                f"--threads {threads}: the suite fixes train.cpu_threads: {suite.train.cpu_threads} for its runs; "
                "leave --threads out or change the suite"
            )
        if not written:
            data["train"]["cpu_threads"] = threads
            given["train.cpu_threads"] = f"threads={threads!r}"
    if epochs is not None:
        data["train"]["epochs"] = epochs
        given["train.epochs"] = f"epochs={epochs!r}"
    if precision is not None:
        data["train"]["precision"] = precision
        given["train.precision"] = f"precision={precision!r}"
    if subset is not None:
        data["dataset"]["subset"] = subset
        given["dataset.subset"] = f"subset={subset!r}"
    if test_subset is not None:
        data["dataset"]["test_subset"] = test_subset
        given["dataset.test_subset"] = f"test_subset={test_subset!r}"
    if seeds:
        data["seeds"] = list(dict.fromkeys(seeds))
        shown = repr(data["seeds"])
        given["seeds"] = "seeds=" + (shown if len(shown) <= 60 else shown[:57] + "...")
    if not given:
        return suite
    source = source or getattr(suite, "source", None) or "overrides"
    try:
        validated = Suite.model_validate(data)
    except ValidationError as exc:
        problems = []
        for path, message in validation_problems(exc, Suite):
            override = next((v for k, v in given.items() if path == k or path.startswith(k + "[")), None)
            problems.append((path, message + (f" (from the override {override})" if override else "")))
        raise SuiteError(source, problems=problems) from None
    # model_copy keeps what load_suite attached (folder, source, expanded settings): overrides
    # never change the loss settings
    new = suite.model_copy(update={k: getattr(validated, k) for k in ("train", "dataset", "seeds")})
    if new.loss_settings is not None:
        check_run_count(len(new.loss_settings), len(new.seeds), source)
    return new


def with_data_digest(suite: Suite, data_dir=None, *, absent: bool = True) -> Suite:
    """The suite with ``dataset.files_digest`` set to the digest of the files its dataset reads
    through the data folder ``data_dir`` (``--data-dir``, else ``$MODBENCH_DATA``;
    Fashion-MNIST, CIFAR and the retrieval datasets: ``datasets/locate.py``), so that a run's key depends on the data
    it trains on. Other datasets are returned as they are (a user's ``path`` is digested when
    the suite is loaded; digits reads no files). Files not there give the digest ``absent``
    (a run keyed by it downloads them first), or, with ``absent`` off (``report``, which reads
    no data), the suite as it is."""

    if data_dir is None:
        data_dir = os.environ.get("MODBENCH_DATA") or None
    digest = data_digest(suite.dataset.name, data_dir)
    if digest is None or digest == suite.dataset.files_digest or (digest == ABSENT and not absent):
        return suite
    return suite.model_copy(update={"dataset": suite.dataset.model_copy(update={"files_digest": digest})})


def loss_settings_of(suite: Suite, source: str | None = None) -> list[LossSetting]:
    """The suite's distinct loss settings: those ``load_suite`` expanded, else (a suite not from
    ``load_suite``: parse_suite, tests) expanded here, messages naming ``source``."""
    if suite.loss_settings is not None:
        return list(suite.loss_settings)
    return expand_losses(suite, source or suite.source or suite.name)


def resolve_runs(
    suite: Suite, source: str, *, losses: list[str] | None = None
) -> list[RunSpec]:
    """One RunSpec per loss setting and seed; ``losses`` keeps the settings whose loss name or
    label is listed (an unknown one is a UserError naming the choices)."""
    settings = loss_settings_of(suite, source)
    if losses:
        known = sorted({s.name for s in settings} | {s.label for s in settings})
        for wanted in losses:
            if wanted not in known:
                hint = closest(wanted, known)
                did_you_mean = f"; did you mean '{hint}'?" if hint else ""
                raise UserError(
                    f"--loss {wanted}: suite '{suite.name}' has no loss or label '{wanted}'{did_you_mean} "
                    f"(choices: {', '.join(known)})"
                )
        settings = [s for s in settings if s.name in losses or s.label in losses]
    return plan_runs(suite, settings)


def plan_runs(suite: Suite, settings, seeds: list[int] | None = None) -> list[RunSpec]:
    """One RunSpec per loss setting (``LossSetting``) and seed (default ``suite.seeds``): the one
    place where runs are made from a suite."""
    runs = []
    codes: dict[str, dict[str, Any]] = {}  # loss name -> code_identity, computed once per call (it stats ~40 files)
    for setting in settings:
        if setting.name not in codes:
            codes[setting.name] = code_identity(setting.name, suite.backbone.name, suite.references)  # modbench/identity.py
        for seed in (suite.seeds if seeds is None else seeds):
            runs.append(
                RunSpec(
                    suite=suite.name,
                    label=setting.label,
                    loss=setting.name,
                    seed=seed,
                    config=run_config(suite, setting, seed, copy.deepcopy(codes[setting.name])),
                    swept=setting.swept,
                    params=setting.model,
                    references=suite.references,
                )
            )
    return runs
