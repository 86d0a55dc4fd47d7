"""ProxyNCA (Movshovitz-Attias et al. 2017, "No Fuss Distance Metric Learning using Proxies"),
the paper's reference [23], as pytorch-metric-learning's ``ProxyNCALoss``.

One learnable proxy per class; NCA over the distances from each L2-normalised embedding to the
normalised proxies. No miner: every embedding is compared with every proxy. Settings:

- Distance: squared Euclidean, as in Movshovitz-Attias et al.'s equation (1) (pml's default
  for NCA).
- ``softmax_scale`` 9, i.e. the temperature 1/9 of ProxyNCA++ (Teh, DeVries and Taylor 2020;
  Musgrave et al. 2020 tune it). At pml's default scale 1 on unit vectors the loss stays high
  even at an ideal solution: log(1 + (C - 1) e^-2) with orthogonal proxies (0.80 for 10
  classes); at 9 it is ~(C - 1) e^-18.
- The proxies train at ``proxy_lr_multiplier`` (100) times the suite's learning rate, without
  weight decay: Kim et al. 2020 (Proxy Anchor) scale up the learning rate of the
  proxies 100 times; the "Metric Learning Reality Check" code (powerful-benchmarker) gives the
  loss's parameters their own optimizer and tunes its learning rate. At the paper suites' 1e-5
  the proxies would otherwise barely leave their random start in a whole run.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from modbench.losses.base import LossParams, register_loss

SOFTMAX_SCALE = 9.0  # ProxyNCA++'s temperature 1/9
PROXY_LR_MULTIPLIER = 100.0  # Proxy Anchor (Kim et al. 2020)


class ProxyNCAParams(LossParams):
    model_config = ConfigDict(strict=True)

    softmax_scale: float = Field(
        SOFTMAX_SCALE,
        gt=0,
        allow_inf_nan=False,
        description="Inverse temperature of the NCA softmax; 9 = ProxyNCA++'s temperature 1/9.",
    )
    proxy_lr_multiplier: float = Field(
        PROXY_LR_MULTIPLIER,
        gt=0,
        allow_inf_nan=False,
        description="Learning rate of the proxies over the suite's (Kim et al. 2020: 100).",
    )


@register_loss(
    "proxynca",
    family="embedding",
    params=ProxyNCAParams,
    description="ProxyNCA: NCA against one proxy per class, scale 9, proxies at 100x the lr.",
    # Musgrave et al. 2020 tune the softmax scale; [1, 100] holds pml's 1 and ProxyNCA++'s 9.
    search_space={"softmax_scale": {"low": 1.0, "high": 100.0, "log": True},
                  "proxy_lr_multiplier": {"low": 1.0, "high": 1000.0, "log": True}},
)
def build(params: ProxyNCAParams, num_classes: int, embedding_dim: int):
    from pytorch_metric_learning import losses

    from modbench.losses._common import MetricLoss, check_sizes

    check_sizes(num_classes, embedding_dim)
    loss = losses.ProxyNCALoss(num_classes, embedding_dim, softmax_scale=params.softmax_scale)
    groups = {
        "proxies": {
            "prefix": "loss.proxies",
            "lr_multiplier": params.proxy_lr_multiplier,
            "weight_decay": params.weight_decay,
            "source": "Kim et al. 2020 / ProxyNCA++: proxies at 100x the learning rate",
        }
    }
    module = MetricLoss(
        loss,
        embedding_dim,
        groups=groups,
        loss_scale=params.loss_scale,
        weight_decay=params.weight_decay,
        settings=f"proxynca: softmax_scale={params.softmax_scale}, "
        f"proxy_lr_multiplier={params.proxy_lr_multiplier}",
    )
    return module
