"""The parameter models of the registered losses, importable without torch.

A suite's loss parameters are validated, and their defaults filled in, by these pydantic models;
the filled-in parameters are part of each run's cache key. Keeping the models here, apart from
the loss code, lets ``modbench report`` (and ``train``'s suite checks) expand a suite into run
keys without importing torch (~1-2 s). Each loss module imports its model from here, and
``LossSpec.params`` is the same class.

A new loss adds its model here and to ``PARAMS`` (tests/test_startup.py checks every registered
loss is listed); a loss missing from ``PARAMS`` still works, through ``resolve_loss(name).params``
(which imports the loss module, and torch), as ``pml:ClassName`` losses do: their models are
built from pytorch-metric-learning's signatures.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

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


class FocalParams(LossParams):
    model_config = ConfigDict(strict=True)

    gamma: float = Field(
        2.0,
        ge=0,
        allow_inf_nan=False,
        description="Focusing parameter; 0 is cross-entropy, Lin et al. use 2.",
    )
    alpha: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="Weight of every sample; null = 1."
    )


# Wu et al.'s reference implementation trains the class-specific beta with its own optimizer,
# SGD (momentum 0.9) at learning rate 0.1 (--lr-beta, default 0.1), while the network uses Adam
# at 1e-4 (apache/mxnet, example/gluon/embedding_learning/train.py).
BETA_LR = 0.1


class MarginParams(LossParams):
    model_config = ConfigDict(strict=True)

    margin: float = Field(0.2, gt=0, le=2.0, allow_inf_nan=False, description="Margin alpha.")
    beta0: float = Field(
        1.2, gt=0, le=2.0, allow_inf_nan=False, description="Initial boundary beta."
    )
    learn_beta: bool = Field(True, description="Train beta with the model (Wu et al.: yes).")
    beta_per_class: bool = Field(
        True, description="One beta per class (Wu et al.'s beta^(class)) or a single one."
    )
    beta_lr: float | None = Field(
        BETA_LR,
        gt=0,
        allow_inf_nan=False,
        description="Own learning rate of beta (Wu et al.: 0.1, with SGD); null = the model's.",
    )
    nu: float = Field(0.0, ge=0, allow_inf_nan=False, description="Penalty nu * beta.")
    cutoff: float = Field(
        0.5, ge=0, lt=2.0, allow_inf_nan=False, description="Distances clipped below at this."
    )
    nonzero_loss_cutoff: float = Field(
        1.4, gt=0, le=2.0, allow_inf_nan=False, description="Negatives farther are not drawn."
    )

    @model_validator(mode="after")
    def _cutoffs_ordered(self):
        if self.cutoff >= self.nonzero_loss_cutoff:
            raise ValueError(
                f"cutoff ({self.cutoff}) must be below nonzero_loss_cutoff "
                f"({self.nonzero_loss_cutoff})"
            )
        return self


class NPairParams(LossParams):
    """No parameters: pml's NPairsLoss with its defaults."""

    model_config = ConfigDict(strict=True)


class ProxyNCAParams(LossParams):
    model_config = ConfigDict(strict=True)

    softmax_scale: float = Field(
        1.0,
        gt=0,
        allow_inf_nan=False,
        description="Inverse temperature of the NCA softmax; pml's default 1.",
    )


PARAMS: dict[str, type[LossParams]] = {
    "improved": ImprovedParams,
    "cross-entropy": CrossEntropyParams,
    "triplet": TripletParams,
    "focal": FocalParams,
    "margin": MarginParams,
    "npair": NPairParams,
    "proxynca": ProxyNCAParams,
}


def loss_params(name: str) -> type[LossParams]:
    """The parameter model of loss ``name``: from ``PARAMS`` without torch; otherwise (``pml:``
    names, a loss not listed here) from ``resolve_loss``, which also raises UnknownNameError
    naming the closest loss for a name that is not registered."""
    model = PARAMS.get(name)
    if model is None:
        from modbench.losses import resolve_loss

        model = resolve_loss(name).params
    return model
