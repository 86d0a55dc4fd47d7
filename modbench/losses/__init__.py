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
LOSSES.add(
    "cross-entropy",
    "modbench.losses.cross_entropy:SPEC",
    "Softmax cross-entropy, optional label smoothing.",
)
LOSSES.add(
    "triplet",
    "modbench.losses.triplet:SPEC",
    "Triplet margin loss (pytorch-metric-learning), semi-hard miner by default.",
)
LOSSES.add(
    "focal", "modbench.losses.focal:SPEC", "Multi-class focal loss, -(1 - p_y)^gamma log p_y."
)
LOSSES.add(
    "margin",
    "modbench.losses.margin:SPEC",
    "Margin loss with distance-weighted sampling and learnable beta (Wu et al. 2017).",
)
LOSSES.add(
    "proxynca",
    "modbench.losses.proxynca:SPEC",
    "ProxyNCA: NCA against one learnable proxy per class (pytorch-metric-learning).",
)
LOSSES.add(
    "npair",
    "modbench.losses.npair:SPEC",
    "Multi-class N-pair loss (Sohn 2016, pytorch-metric-learning).",
)


def loss_names(pattern: str | None = None) -> list[str]:
    """The registered loss names, sorted; ``pattern`` filters with shell wildcards (``"*entropy"``).

    ``pml:ClassName`` names are not listed here: any pytorch-metric-learning loss class resolves.
    """
    return LOSSES.names(pattern)


def resolve_loss(name: str):
    """The ``LossSpec`` registered under ``name``; UnknownNameError naming the closest match.

    ``pml:ClassName`` gives pytorch-metric-learning's loss of that class (see ``pml.py``).
    """
    if name.startswith("pml:"):
        from modbench.losses.pml import pml_spec

        return pml_spec(name[len("pml:") :])
    if name not in LOSSES and name[:1].isupper():
        # A CamelCase name is likely a pml class given without its prefix: suggest "pml:Name".
        from modbench.errors import UnknownNameError
        from modbench.losses.pml import PREFIX, pml_classes

        raise UnknownNameError("loss", name, [*LOSSES.names(), *(PREFIX + n for n in pml_classes())])
    return LOSSES.get(name)
