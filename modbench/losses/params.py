"""The parameter models of the registered losses, importable without torch.

A suite's loss parameters are validated, and their defaults filled in, by these pydantic models;
the filled-in parameters are part of each run's cache key. Keeping the models here, apart from
the loss code, lets ``modbench report`` (and ``train``'s suite checks) expand a suite into run
keys without importing torch (~1-2 s). Each loss module imports its model from here, and
``LossSpec.params`` is the same class.

A new loss adds its model here and to ``PARAMS``; a loss missing from ``PARAMS`` still works,
through ``resolve_loss(name).params`` (which imports the loss module, and torch).
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from modbench.losses.base import LossParams


class ImprovedParams(LossParams):
    model_config = ConfigDict(strict=True)

    beta: float = Field(
        4.0,
        gt=0,
        allow_inf_nan=False,
        description="Sharpness of the weight softmax(-beta z)[y]; the paper uses 4.",
    )
    # exp(40) ~ 2.4e17 keeps loss values (<= exp(gamma) * ~1e4) far from float32's 3.4e38.
    gamma: float = Field(
        5.0,
        ge=-20,
        le=40,
        allow_inf_nan=False,
        description="Log of the scale exp(gamma); the paper uses 5 (CIFAR), 10 (Fashion-MNIST).",
    )


class CrossEntropyParams(LossParams):
    model_config = ConfigDict(strict=True)

    label_smoothing: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="Mass spread uniformly over all classes (Szegedy et al. 2016); 0 = none.",
    )


MinerName = Literal["semihard", "hard", "all", "batch-hard", "none"]


class TripletParams(LossParams):
    model_config = ConfigDict(strict=True)

    margin: float = Field(
        0.05,
        gt=0,
        le=2.0,  # distances of unit vectors lie in [0, 2]
        allow_inf_nan=False,
        description="Required gap d(a, n) - d(a, p); pytorch-metric-learning's default 0.05.",
    )
    miner: MinerName = Field("semihard", description="Which triplets the loss sees.")


PARAMS: dict[str, type[LossParams]] = {
    "improved": ImprovedParams,
    "cross-entropy": CrossEntropyParams,
    "triplet": TripletParams,
}


def loss_params(name: str) -> type[LossParams]:
    """The parameter model of loss ``name``; UnknownNameError for a name not registered."""
    from modbench.losses import LOSSES

    LOSSES.entry(name)  # raises UnknownNameError naming the closest registered loss
    model = PARAMS.get(name)
    if model is None:
        from modbench.losses import resolve_loss

        model = resolve_loss(name).params
    return model
