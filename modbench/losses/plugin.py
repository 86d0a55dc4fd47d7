"""A user's loss class as a ``LossSpec``: ``./file.py:Class``, ``package.module:Class`` or an
entry point of the group ``modbench.losses``, loaded by ``modbench.plugins``; the contract is in
docs/extending.md. The parameter model is read from the constructor's signature."""

from __future__ import annotations

import inspect
from typing import Any

from pydantic import Field, create_model, model_validator

from modbench.errors import closest
from modbench.losses.base import LossParams, LossSpec
from modbench.plugins import LOSS_GROUP, PluginError, load_entry_point, load_reference

# Imports inside functions here: torch and pytorch-metric-learning are imported when the loss is
# built: the registry lists and checks losses (and their parameters) without torch.

# Filled by the constructor itself, never by the suite's params.
_SIZES = {"num_classes", "embedding_dim"}


def _constructor_parameters(cls: type) -> list[inspect.Parameter]:
    signature = inspect.signature(cls.__init__)
    return [
        p for p in list(signature.parameters.values())[1:]
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def _describe_signature(cls: type, params: list[inspect.Parameter]) -> str:
    shown = [p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in params if p.name not in _SIZES]
    return f"{cls.__name__}({', '.join(shown)})"


def params_model_from_signature(cls: type):
    """A strict parameter model with one field per keyword of ``cls``'s constructor (bar
    ``num_classes`` and ``embedding_dim``), plus modbench's ``loss_scale`` and ``weight_decay``.
    Unknown and missing keys are refused in one message naming the constructor's parameters."""
    params = _constructor_parameters(cls)
    own = {p.name for p in params if p.name not in _SIZES}
    required = {p.name for p in params if p.name not in _SIZES and p.default is p.empty}
    allowed = own | set(LossParams.model_fields)
    signature = _describe_signature(cls, params)

    fields: dict[str, Any] = {}
    for p in params:
        if p.name in _SIZES:
            continue
        annotation = p.annotation if p.annotation is not p.empty and not isinstance(p.annotation, str) else Any
        fields[p.name] = (annotation, Field(...) if p.default is p.empty else p.default)

    def check_keys(cls_, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - allowed)
            if unknown:
                hint = closest(unknown[0], own)
                hint = f" (did you mean '{hint}'?)" if hint else ""
                raise ValueError(f"unknown parameter '{unknown[0]}'{hint}; the constructor is {signature}")
            missing = sorted(required - set(data))
            if missing:
                raise ValueError(f"missing required parameter '{missing[0]}'; the constructor is {signature}")
        return data

    validators = {"_check_keys": model_validator(mode="before")(classmethod(check_keys))}
    model = create_model(
        f"{cls.__name__}Params", __base__=LossParams, __validators__=validators, **fields
    )
    model.__doc__ = f"Keyword parameters of {signature}."
    return model


def _family(cls: type, name: str) -> str:
    family = getattr(cls, "family", "embedding")
    if family not in ("softmax", "embedding"):
        raise PluginError(f"loss '{name}': family must be 'softmax' or 'embedding', got {family!r}")
    return family


def loss_spec_from_class(cls: Any, name: str, source_files: tuple[str, ...]):
    """The ``LossSpec`` of a user's loss class (contract: docs/extending.md)."""
    import torch  # a user's loss is an nn.Module: torch is needed to check it anyway

    if not (inspect.isclass(cls) and issubclass(cls, torch.nn.Module)):
        raise PluginError(f"loss '{name}': must be a torch.nn.Module subclass, got {cls!r}")
    family = _family(cls, name)
    model = params_model_from_signature(cls)
    takes = {p.name for p in _constructor_parameters(cls)}

    def build(params, num_classes: int, embedding_dim: int):
        from modbench.losses._common import PluginLoss

        kwargs = params.model_dump(exclude=set(LossParams.model_fields) - takes)
        sizes = {"num_classes": num_classes, "embedding_dim": embedding_dim}
        kwargs.update({k: v for k, v in sizes.items() if k in takes})
        inner = cls(**kwargs)
        if family == "softmax" and not isinstance(getattr(inner, "classifier", None), torch.nn.Module):
            raise PluginError(f"loss '{name}': a softmax-family loss must own its classifier as .classifier")
        return PluginLoss(inner, family, loss_scale=params.loss_scale, weight_decay=params.weight_decay,
                          settings=name)

    return LossSpec(family=family, params=model, build=build, name=name,
                    description=(inspect.getdoc(cls) or "").split("\n")[0], source_files=source_files)


def loss_spec(name: str, references=None):
    """The spec of ``./file.py:Class`` or ``module:Class`` (a file as ``references`` resolved it
    at load, ``plugins.PluginRef``)."""
    cls, sources = load_reference(name, references)
    return loss_spec_from_class(cls, name, sources)


def loss_spec_from_entry_point(name: str):
    cls, sources = load_entry_point(LOSS_GROUP, name)
    return loss_spec_from_class(cls, name, sources)
