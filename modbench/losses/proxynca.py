"""ProxyNCA as Movshovitz-Attias, Toshev, Leung, Ioffe and Singh define it (2017, "No Fuss
Distance Metric Learning using Proxies"), the paper's reference [23].

One learnable proxy per class; for an embedding x of class y, with x and the proxies
L2-normalised and d the squared Euclidean distance::

    L(x, y) = -log( exp(-s d(x, p_y)) / sum_{z != y} exp(-s d(x, p_z)) )
            = s d(x, p_y) + logsumexp_{z != y}( -s d(x, p_z) )

The positive proxy is *excluded* from the denominator: the NCA loss over proxies of their
section 3 (the denominator runs over the negative proxies p(Z)), as ProxyNCA++ (Teh et al.
2020, section 3, equation (1)) restates it and its authors' ``ProxyNCA_classic`` computes it
(euwern/proxynca_pp at 217233d29a89a89766658396a598b896d17a5814, ``loss.py`` lines 21-50).
The loss can be negative. ``proxynca++`` is the other form (positive included, temperature).

Settings: ``softmax_scale`` s = 1 (the definition has no temperature; ProxyNCA++ reads the
original as T = 1); the proxies train with the network, at the suite's optimizer and learning
rate (``proxy_lr_multiplier`` 1; ProxyNCA++'s "fast moving proxies" is what changes that), no
weight decay. Proxies start as a Gaussian draw (only their direction matters).

Written here rather than with pytorch-metric-learning: pml's ``ProxyNCALoss`` keeps the positive
proxy in the denominator. No miner: every embedding is compared with every proxy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ConfigDict, Field

from modbench.losses.base import LossParams, register_loss

# Imports inside functions here: torch and pytorch-metric-learning are imported when the loss is
# built: the registry lists and checks losses (and their parameters) without torch.

if TYPE_CHECKING:
    from torch import Tensor

SOFTMAX_SCALE = 1.0  # no temperature in Movshovitz-Attias et al.'s loss
PROXY_LR_MULTIPLIER = 1.0  # proxies learn with the network


class ProxyNCAParams(LossParams):
    model_config = ConfigDict(strict=True)

    softmax_scale: float = Field(
        SOFTMAX_SCALE,
        gt=0,
        allow_inf_nan=False,
        description="Multiplies the squared distances (1 / temperature); 1 in the original.",
    )
    proxy_lr_multiplier: float = Field(
        PROXY_LR_MULTIPLIER,
        gt=0,
        allow_inf_nan=False,
        description="Learning rate of the proxies over the suite's (1: trained with the network).",
    )


def squared_distances(embeddings: Tensor, proxies: Tensor) -> Tensor:
    """||x/|x| - p/|p| ||^2 for every embedding and proxy, [B, C]."""
    import torch.nn.functional as F

    x, p = F.normalize(embeddings, dim=1), F.normalize(proxies, dim=1)
    return (x.pow(2).sum(1, keepdim=True) + p.pow(2).sum(1) - 2 * x @ p.T).clamp_min(0)


def proxynca_loss(embeddings: Tensor, labels: Tensor, proxies: Tensor, scale: float) -> Tensor:
    """Mean over the batch of s d(x, p_y) + logsumexp_{z != y}(-s d(x, p_z)); with a single
    class (no negative proxy) the second term is -inf, so that case gives 0 instead."""
    import torch

    d = scale * squared_distances(embeddings, proxies)
    index = labels.unsqueeze(1)
    negatives = (-d).scatter(1, index, float("-inf"))
    if proxies.shape[0] < 2:
        return embeddings.sum() * 0.0
    losses = d.gather(1, index).squeeze(1) + torch.logsumexp(negatives, dim=1)
    return losses.mean()


@register_loss(
    "proxynca",
    family="embedding",
    params=ProxyNCAParams,
    description="ProxyNCA (Movshovitz-Attias et al. 2017): positive proxy out of the denominator, no temperature.",
    # Musgrave et al. 2020 tune the softmax scale; [1, 100] holds the original 1 and ProxyNCA++'s 9.
    search_space={"softmax_scale": {"low": 1.0, "high": 100.0, "log": True},
                  "proxy_lr_multiplier": {"low": 1.0, "high": 1000.0, "log": True}},
)
def build(params: ProxyNCAParams, num_classes: int, embedding_dim: int):
    import torch
    from torch import nn

    from modbench.losses._common import MetricLoss, check_sizes

    check_sizes(num_classes, embedding_dim)

    class ProxyNCA(nn.Module):
        """The proxies and ``proxynca_loss``, with the (embeddings, labels, indices) call of a
        pml loss."""

        def __init__(self):
            super().__init__()
            self.proxies = nn.Parameter(torch.randn(num_classes, embedding_dim))
            self.softmax_scale = params.softmax_scale

        def forward(self, embeddings, labels, indices=None):
            return proxynca_loss(embeddings, labels, self.proxies, self.softmax_scale)

    groups = {
        "proxies": {
            "prefix": "loss.proxies",
            "lr_multiplier": params.proxy_lr_multiplier,
            "weight_decay": params.weight_decay,
            "source": "Movshovitz-Attias et al. 2017: proxies trained with the network"
            if params.proxy_lr_multiplier == PROXY_LR_MULTIPLIER
            else f"suite: proxies at {params.proxy_lr_multiplier} x the learning rate",
        }
    }
    return MetricLoss(
        ProxyNCA(),
        embedding_dim,
        groups=groups,
        loss_scale=params.loss_scale,
        weight_decay=params.weight_decay,
        settings=f"proxynca: softmax_scale={params.softmax_scale}, "
        f"proxy_lr_multiplier={params.proxy_lr_multiplier}",
    )
