"""ProxyNCA (Movshovitz-Attias et al. 2017, "No Fuss Distance Metric Learning using Proxies"),
the paper's reference [23], as pytorch-metric-learning's ``ProxyNCALoss``.

One learnable proxy per class (an ``nn.Parameter`` of the module, trained with the model); NCA
over the distances from each L2-normalised embedding to the normalised proxies. No miner: every
embedding is compared with every proxy.

``param_lr`` is None: the proxies use the model's learning rate. Later work gives proxies a much
larger one (e.g. ProxyNCA++, Teh et al. 2020), but the original paper does not set one that we
could check, so none is imposed here.
"""

from __future__ import annotations

from pytorch_metric_learning import losses

from modbench.losses._common import MetricLoss, check_sizes
from modbench.losses.base import LossSpec
from modbench.losses.params import ProxyNCAParams


class ProxyNCALoss(MetricLoss):
    """pml ``ProxyNCALoss`` with ``num_classes`` proxies of size ``embedding_dim``."""

    def __init__(self, num_classes: int, embedding_dim: int, softmax_scale: float = 1.0):
        check_sizes(num_classes, embedding_dim)
        loss = losses.ProxyNCALoss(num_classes, embedding_dim, softmax_scale=softmax_scale)
        super().__init__(loss, embedding_dim)

    @property
    def proxies(self):
        return self.loss.proxies


def _build(params: ProxyNCAParams, num_classes: int, embedding_dim: int) -> ProxyNCALoss:
    return ProxyNCALoss(num_classes, embedding_dim, softmax_scale=params.softmax_scale)


SPEC = LossSpec(family="embedding", params=ProxyNCAParams, build=_build)
