"""From a validated suite to the list of runs it stands for.

A loss entry whose parameters hold lists is a sweep: every combination becomes one loss setting,
labelled by its values; identical settings (also across entries) become one. Each loss setting
times each seed is one run, identified by the hash of its fully resolved configuration (dataset,
backbone, training settings, loss and parameters with defaults filled, seed). Display labels and
suite names are not part of the hash, so suites that share a run share its cache entry.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from modbench.errors import UnknownNameError, UserError
from modbench.suite.schema import Suite

MAX_SWEEP = 10_000  # loss settings one suite entry may expand to
PROTOCOL_VERSION = 2  # bump when a change to the engine makes old cached runs incomparable
# 2: epoch plans drawn per epoch (new m-per-class sampler, crop draws), channels-last and fused
#    optimizers on the CPU: the same seed trains on other batches and numerics than under 1.


@dataclass(frozen=True)
class LossSetting:
    name: str
    label: str
    params: dict[str, Any]
    swept: dict[str, Any] = field(default_factory=dict)
    lr: float | None = None  # the entry's own learning rate (LossEntry.lr), else train.lr


@dataclass(frozen=True)
class RunSpec:
    suite: str
    label: str
    loss: str
    seed: int
    config: dict[str, Any]
    key: str
    swept: dict[str, Any] = field(default_factory=dict)

    @property
    def dataset(self) -> str:
        return self.config["dataset"]["name"]

    @property
    def backbone(self) -> str:
        return self.config["backbone"]["name"]


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def config_key(config: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:20]


def _format_value(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def expand_losses(suite: Suite, source: str) -> list[LossSetting]:
    """Every distinct loss setting of the suite, parameters validated against the loss."""
    from modbench.losses.params import loss_params  # pydantic models only: no torch
    from modbench.suite.loader import SuiteError, validation_message

    settings: list[LossSetting] = []
    seen: set[str] = set()
    for i, entry in enumerate(suite.losses):
        try:
            params_model = loss_params(entry.name)
        except UnknownNameError as exc:
            raise SuiteError(source, f"losses[{i}].name", str(exc)) from None
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
        for combo in itertools.product(*grids):
            swept = dict(zip(swept_keys, combo))
            params = {**entry.params, **swept}
            try:
                model = params_model.model_validate(params)
            except ValidationError as exc:
                path, message = validation_message(exc, params_model)
                if swept:
                    shown = repr(swept)
                    shown = shown if len(shown) <= 80 else shown[:77] + "..."
                    message += f" (in the sweep combination {shown})"
                raise SuiteError(source, f"losses[{i}].params.{path}", message) from None
            resolved = model.model_dump(mode="json")
            identity = canonical_json({"name": entry.name, "params": resolved, "lr": entry.lr})
            if identity in seen:
                continue
            seen.add(identity)
            label = entry.label or entry.name
            if swept:
                values = ", ".join(f"{k}={_format_value(v)}" for k, v in swept.items())
                label = f"{label} ({values})"
            settings.append(LossSetting(entry.name, label, resolved, swept, entry.lr))
    return settings


def run_config(suite: Suite, setting: LossSetting, seed: int) -> dict[str, Any]:
    return {
        "protocol": PROTOCOL_VERSION,
        "dataset": suite.dataset.model_dump(mode="json"),
        "backbone": suite.backbone.model_dump(mode="json"),
        "train": suite.train.model_dump(mode="json")
        | ({"lr": setting.lr} if setting.lr is not None else {}),
        "loss": {"name": setting.name, "params": setting.params},
        "seed": seed,
    }


def apply_overrides(
    suite: Suite, *, epochs: int | None = None, subset: int | None = None, seeds: list[int] | None = None
) -> Suite:
    """The suite with command-line overrides applied (overridden runs hash differently)."""
    update: dict[str, Any] = {}
    if epochs is not None:
        update["train"] = suite.train.model_copy(update={"epochs": epochs})
    if subset is not None:
        update["dataset"] = suite.dataset.model_copy(update={"subset": subset})
    if seeds:
        update["seeds"] = list(dict.fromkeys(seeds))
    return suite.model_copy(update=update) if update else suite


def resolve_runs(
    suite: Suite, source: str, *, losses: list[str] | None = None
) -> list[RunSpec]:
    """One RunSpec per loss setting and seed; ``losses`` keeps the settings whose loss name or
    label is listed (an unknown one is a UserError naming the choices)."""
    settings = expand_losses(suite, source)
    if losses:
        known = sorted({s.name for s in settings} | {s.label for s in settings})
        for wanted in losses:
            if wanted not in known:
                from modbench.errors import unknown_name_message

                raise UserError(f"--loss: {unknown_name_message('loss in suite ' + repr(suite.name), wanted, known)}")
        settings = [s for s in settings if s.name in losses or s.label in losses]
    runs = []
    for setting in settings:
        for seed in suite.seeds:
            config = run_config(suite, setting, seed)
            runs.append(
                RunSpec(
                    suite=suite.name,
                    label=setting.label,
                    loss=setting.name,
                    seed=seed,
                    config=config,
                    key=config_key(config),
                    swept=setting.swept,
                )
            )
    return runs
