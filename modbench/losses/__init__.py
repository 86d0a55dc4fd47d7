"""The loss registry. ``resolve_loss(name)`` gives a ``LossSpec`` (see ``base.py``).

Names are registered lazily so that listing them imports no torch. ``pml:ClassName`` resolves any
pytorch-metric-learning loss by class name.
"""

from __future__ import annotations

from modbench.registry import Registry

LOSSES = Registry("loss")
LOSSES.add(
    "improved",
    "modbench.losses.improved:SPEC",
    "The paper's softmax-modulated cross-entropy, exp(gamma) * softmax(-beta z)[y] * CE.",
)
LOSSES.add("cross-entropy", "modbench.losses.cross_entropy:SPEC", "Softmax cross-entropy.")
LOSSES.add(
    "triplet", "modbench.losses.triplet:SPEC", "Triplet margin loss (pytorch-metric-learning)."
)


def loss_names(pattern: str | None = None) -> list[str]:
    """The registered loss names, sorted; ``pattern`` filters with shell wildcards (``"*entropy"``).

    ``pml:ClassName`` names are not listed here: any pytorch-metric-learning loss class resolves.
    """
    return LOSSES.names(pattern)


def resolve_loss(name: str):
    """The ``LossSpec`` registered under ``name``; UnknownNameError naming the closest match."""
    return LOSSES.get(name)
