"""``pml:ClassName``: any pytorch-metric-learning loss by its class name, with its keywords.

``pml_spec("ContrastiveLoss")`` gives a ``LossSpec`` whose parameter model is built from the
class's constructor signature, following ``**kwargs`` up its base classes (so
``pml:ProxyNCALoss`` takes ``softmax_scale``, which ``NCALoss`` defines). Every keyword with a
plain default (number, bool, string, None) becomes a field with that default; a keyword without
a default becomes a required field. Unknown keywords are refused.

Left out of the parameter model:

- ``num_classes``, ``embedding_size`` (and ``descriptors_dim``, P2SGradLoss's name for it):
  filled in from the dataset and the backbone whenever the constructor takes them;
- keywords that take Python objects (``distance``, ``reducer``, regularizers and their weights,
  ``weight_init_func``) and ``collect_stats``: a suite file cannot express them, pml's defaults
  apply.

Values are passed to the class as given; fields are typed from the default's type (bool, number)
and otherwise accept any value, so pml itself has the last word on them. No miner: the loss sees
every pair or triplet of the batch unless the class mines internally.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import torch
from pydantic import ConfigDict, Field, create_model
from pytorch_metric_learning import losses

from modbench.errors import UnknownNameError
from modbench.losses._common import MetricLoss, check_sizes
from modbench.losses.base import _COMMON, LossParams, LossSpec

PREFIX = "pml:"
AUTO_FILLED = {
    "num_classes": "num_classes",
    "embedding_size": "embedding_dim",
    "descriptors_dim": "embedding_dim",
}
NOT_CONFIGURABLE = {
    "distance",
    "reducer",
    "embedding_regularizer",
    "embedding_reg_weight",
    "weight_regularizer",
    "weight_reg_weight",
    "weight_init_func",
    "collect_stats",
    "mat_based_loss",  # set by each subclass of GenericPairLoss itself
}
# Classes that are not standalone losses on (embeddings, labels).
NOT_LOSSES = {
    "BaseMetricLossFunction",  # abstract
    "GenericPairLoss",  # abstract
    "VICRegLoss",  # self-supervised: forward(embeddings, ref_emb), no labels
}


class PmlParams(LossParams):
    """Base of the generated parameter models."""

    model_config = ConfigDict(strict=True)


def pml_classes() -> dict[str, type]:
    """pytorch-metric-learning's loss classes usable as ``pml:Name``."""
    found = {}
    for name, obj in vars(losses).items():
        if (
            inspect.isclass(obj)
            and issubclass(obj, losses.BaseMetricLossFunction)
            and name not in NOT_LOSSES
        ):
            found[name] = obj
    return dict(sorted(found.items()))


def constructor_parameters(cls: type) -> dict[str, inspect.Parameter]:
    """The keyword parameters of ``cls``, following ``**kwargs`` up the base classes."""
    params: dict[str, inspect.Parameter] = {}
    for klass in inspect.getmro(cls):
        if klass is torch.nn.Module or klass is object:
            break
        if "__init__" not in vars(klass):
            continue
        signature = inspect.signature(klass.__init__)
        for p in list(signature.parameters.values())[1:]:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                params.setdefault(p.name, p)
        if not any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
            break
    return params


def _field(p: inspect.Parameter) -> tuple[Any, Any]:
    default = p.default
    if default is inspect.Parameter.empty:
        return Any, Field(..., description="required by pytorch-metric-learning")
    if isinstance(default, bool):
        return bool, default
    if isinstance(default, (int, float)):
        return int | float, default
    return Any, default


@functools.lru_cache(maxsize=None)
def pml_spec(class_name: str) -> LossSpec:
    """The ``LossSpec`` of pml loss ``class_name``; UnknownNameError with the closest name."""
    classes = pml_classes()
    if class_name not in classes:
        raise UnknownNameError("loss", PREFIX + class_name, [PREFIX + n for n in classes])
    cls = classes[class_name]
    signature = constructor_parameters(cls)
    fields = {
        name: _field(p)
        for name, p in signature.items()
        if name not in AUTO_FILLED and name not in NOT_CONFIGURABLE
        and name not in LossParams.model_fields  # loss_scale, weight_decay: modbench's own
    }
    params_model = create_model(f"Pml{class_name}Params", __base__=PmlParams, **fields)
    params_model.__doc__ = f"Keyword parameters of pytorch_metric_learning.losses.{class_name}."
    auto = {name: source for name, source in AUTO_FILLED.items() if name in signature}

    def build(params: LossParams, num_classes: int, embedding_dim: int) -> MetricLoss:
        check_sizes(num_classes, embedding_dim)
        sizes = {"num_classes": num_classes, "embedding_dim": embedding_dim}
        kwargs = params.model_dump(exclude=set(LossParams.model_fields))
        kwargs.update({name: sizes[source] for name, source in auto.items()})
        module = MetricLoss(
            cls(**kwargs),
            embedding_dim,
            loss_scale=params.loss_scale,
            weight_decay=params.weight_decay,
            settings=f"pml:{class_name}",
        )
        module.pml_class = class_name
        return module

    return LossSpec(
        family="embedding",
        params=params_model,
        build=build,
        name=PREFIX + class_name,
        description=f"pytorch_metric_learning.losses.{class_name}",
        source_files=(__file__, _COMMON),
    )
