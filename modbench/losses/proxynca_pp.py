"""ProxyNCA++ as Teh, DeVries and Taylor define it (2020, "ProxyNCA++: Revisiting and
Revitalizing Proxy Neighborhood Component Analysis"), as pytorch-metric-learning's
``ProxyNCALoss``.

One learnable proxy per class; with x and the proxies L2-normalised, d the squared Euclidean
distance and T the temperature::

    L(x, y) = -log softmax_c( -d(x, p_c) / T )[y]

The positive proxy *is* in the denominator (the "proxy assignment probability" of their section
3; ``ProxyNCA_prob``, euwern/proxynca_pp at 217233d29a89a89766658396a598b896d17a5814, ``loss.py``
lines 52-80), unlike the original ``proxynca``. Their settings, each from that repository:

- Temperature 1/9 (``softmax_scale`` 9): ``config/cub.json`` line 7 sets ``scale`` 3, which
  multiplies both normalised vectors (``loss.py`` lines 61-65: scale = sqrt(1/T)), so squared
  distances are multiplied by 9.
- Fast-moving proxies: the proxies' learning rate is 4e2 against the network's 4e-3
  (``config/cub.json`` lines 42-47; also Cars and InShop; 4e1 x 6 for SOP), no weight decay, in
  one Adam with ``eps`` 1.0 for every group. With eps = 1 and gradients well below 1 Adam's step
  is lr x m_hat (m_hat the bias-corrected mean of the gradients, beta1 0.9), i.e. SGD with
  momentum: m_hat ~ 0.1 x (SGD's momentum buffer at 0.9) once past the first ~20 steps, so
  lr 4e2 is SGD at lr 40 with momentum 0.9. modbench's suites use Adam with eps 1e-8, whose step
  is about lr whatever the gradient, so a learning-rate *ratio* would not carry over: the proxies
  get that SGD of their own (``proxy_lr`` 40, ``proxy_momentum`` 0.9), beside the suite's
  optimizer for the network, as the margin loss's beta does.

The architecture changes of ProxyNCA++ (global max pooling, layer norm of the embedding) belong
to the backbone, not to the loss, and are not part of this loss. pml's proxies start from
Xavier-normal, the reference's from N(0, 1/64): only their directions matter.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from modbench.losses.base import LossParams, register_loss

# Imports inside functions here: torch and pytorch-metric-learning are imported when the loss is
# built: the registry lists and checks losses (and their parameters) without torch.

SOFTMAX_SCALE = 9.0  # temperature 1/9: scale 3 on both normalised vectors
PROXY_LR = 40.0  # Adam(lr 4e2, eps 1.0) for small gradients = SGD lr 40, momentum 0.9
PROXY_MOMENTUM = 0.9


class ProxyNCAPPParams(LossParams):
    model_config = ConfigDict(strict=True)

    softmax_scale: float = Field(
        SOFTMAX_SCALE,
        gt=0,
        allow_inf_nan=False,
        description="1 / temperature on squared distances; 9 = Teh et al.'s temperature 1/9.",
    )
    proxy_lr: float = Field(
        PROXY_LR,
        gt=0,
        allow_inf_nan=False,
        description="Learning rate of the proxies' own SGD (40: Teh et al.'s Adam lr 4e2 at eps 1).",
    )
    proxy_momentum: float = Field(
        PROXY_MOMENTUM, ge=0, lt=1, allow_inf_nan=False, description="SGD momentum of the proxies."
    )


@register_loss(
    "proxynca++",
    family="embedding",
    params=ProxyNCAPPParams,
    description="ProxyNCA++ (Teh et al. 2020): positive proxy included, temperature 1/9, fast-moving proxies.",
    search_space={"softmax_scale": {"low": 1.0, "high": 100.0, "log": True},
                  "proxy_lr": {"low": 0.1, "high": 1000.0, "log": True}},
)
def build(params: ProxyNCAPPParams, num_classes: int, embedding_dim: int):
    from pytorch_metric_learning import losses

    from modbench.losses._common import MetricLoss, check_sizes

    check_sizes(num_classes, embedding_dim)
    loss = losses.ProxyNCALoss(num_classes, embedding_dim, softmax_scale=params.softmax_scale)
    groups = {
        "proxies": {
            "prefix": "loss.proxies",
            "optimizer": "sgd",
            "lr": params.proxy_lr,
            "momentum": params.proxy_momentum,
            "weight_decay": params.weight_decay,
            "source": "Teh et al. 2020 (euwern/proxynca_pp config/cub.json): proxies' Adam lr 4e2 at "
            "eps 1 = SGD lr 40, momentum 0.9, no decay",
        }
    }
    return MetricLoss(
        loss,
        embedding_dim,
        groups=groups,
        loss_scale=params.loss_scale,
        weight_decay=params.weight_decay,
        settings=f"proxynca++: softmax_scale={params.softmax_scale}, proxy_lr={params.proxy_lr}, "
        f"proxy_momentum={params.proxy_momentum}",
    )
