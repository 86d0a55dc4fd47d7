"""The ``tune:`` section of a suite and the search spaces of ``modbench tune``: which parameters of
each loss are searched, over what. Imports no torch (the suite loader checks the section).

A loss declares its space as ``spec.search_space`` ({param: {"low", "high", "log"}}, next to its
parameters in ``modbench/losses/``); a loss without one (e.g. ``pml:ClassName``) searches its
learning rate only. The shared learning rate ``lr`` is searched for every loss, log-uniform in
[1e-6, 1e-2]. A suite's ``tune:`` section overrides the spaces per loss label (or loss name, or
``"*"`` for every loss): a range replaces the declared one, the word ``fixed`` keeps the suite's
value (the learning rate included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from modbench.errors import closest
from modbench.losses import resolve_loss
from modbench.suite.references import loss_params_model
from modbench.suite.errors import SuiteError
from modbench.suite.schema import TuneRange

LR = "lr"  # the shared learning rate (train.lr); searched per loss like a loss parameter
ALL = "*"  # a tune: entry for every loss of the suite


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    log: bool = False
    integer: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "log": self.log}


LR_RANGE = Range(1e-6, 1e-2, log=True)

def declared_space(loss: str, references=None) -> dict[str, Range]:
    """The loss's own space, ``spec.search_space`` (empty where the loss declares none). Imports
    the loss (and torch): only ``modbench tune`` calls it, which trains anyway. ``references``:
    the suite's plugin references (``Suite.references``)."""
    declared = getattr(resolve_loss(loss, references), "search_space", None) or {}
    return {k: Range(float(v["low"]), float(v["high"]), bool(v.get("log", False))) for k, v in declared.items()}


def _is_int_field(params_model, name: str) -> bool:
    field = params_model.model_fields.get(name)
    return field is not None and field.annotation is int


def loss_space(suite, setting, source: str = "suite") -> dict[str, Range]:
    """The searched parameters of one loss setting of ``suite`` (``lr`` included unless fixed),
    with the suite's ``tune:`` overrides applied (``"*"`` first, then the loss name, then its
    label). Raises SuiteError for a parameter the loss does not have."""
    space = declared_space(setting.name, suite.references)
    space[LR] = LR_RANGE
    params_model = loss_params_model(setting.name, suite.references)
    section = suite.tune or {}
    for key in (ALL, setting.name, setting.label):
        for param, value in (section.get(key) or {}).items():
            if value == "fixed":
                space.pop(param, None)
            else:
                value = _range(value)
                space[param] = Range(value.low, value.high, value.log)
    # The sweep's own values are not searched: a swept parameter of the entry stays as listed.
    for param in setting.swept:
        space.pop(param, None)
    out = {}
    for param, rng in space.items():
        out[param] = Range(rng.low, rng.high, rng.log, integer=param != LR and _is_int_field(params_model, param))
    return out


def _range(value):
    return value if isinstance(value, TuneRange) else TuneRange.model_validate(value)


def _check_value(value, source: str, where: str):
    """``fixed`` or a {low, high, log} mapping; SuiteError naming the key otherwise."""
    if value == "fixed":
        return value
    if not isinstance(value, dict):
        raise SuiteError(source, where, f"give a range {{low, high, log}} or the word fixed (got {value!r:.40})")
    try:
        return TuneRange.model_validate(value)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(part) for part in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown key '{err['loc'][-1]}' (valid keys: high, log, low)"
        raise SuiteError(source, f"{where}.{loc}" if loc else where, msg) from None


def check_tune_section(suite, source: str) -> None:
    """The ``tune:`` section names losses of the suite and parameters those losses have, and each
    range lies inside what the loss accepts (SuiteError, one line, exit 2)."""
    if not suite.tune:
        return

    entries = {e.label or e.name: e for e in suite.losses}
    entries.update({e.name: e for e in suite.losses})
    for key, params in suite.tune.items():
        if key != ALL and key not in entries:
            choices = sorted(entries) + [ALL]
            hint = closest(key, choices)
            did = f"; did you mean '{hint}'?" if hint else ""
            raise SuiteError(
                source, f"tune.{key}",
                f"no loss of the suite has the label or name '{key}'{did} (choices: {', '.join(choices)})",
            )
        targets = list(suite.losses) if key == ALL else [entries[key]]
        if not isinstance(params, dict):
            raise SuiteError(source, f"tune.{key}", "give a mapping {parameter: range or fixed}")
        for param, value in params.items():
            value = _check_value(value, source, f"tune.{key}.{param}")
            for entry in targets:
                model = loss_params_model(entry.name, suite.references)
                if param != LR and param not in model.model_fields:
                    if key == ALL:
                        continue  # "*" applies a parameter to the losses that have it
                    valid = sorted([*model.model_fields, LR])
                    hint = closest(param, valid)
                    did = f"; did you mean '{hint}'?" if hint else ""
                    raise SuiteError(
                        source, f"tune.{key}.{param}",
                        f"loss '{entry.name}' has no parameter '{param}'{did} (valid: {', '.join(valid)})",
                    )
                if value == "fixed" or param == LR:
                    if param == LR and value != "fixed" and value.low <= 0:
                        raise SuiteError(source, f"tune.{key}.{param}", "a learning rate range needs low > 0")
                    continue
                for end in ("low", "high"):
                    bound = getattr(value, end)
                    if _is_int_field(model, param):
                        bound = int(round(bound))
                    base = {**entry.params}
                    base = {k: v for k, v in base.items() if not isinstance(v, list)}
                    try:
                        model.model_validate({**base, param: bound})
                    except ValidationError as exc:
                        why = exc.errors()[0]["msg"]
                        raise SuiteError(
                            source, f"tune.{key}.{param}.{end}",
                            f"{bound} is not a value loss '{entry.name}' accepts ({why})",
                        ) from None
