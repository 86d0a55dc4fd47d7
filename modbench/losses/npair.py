"""N-pair loss (Sohn 2016, "Improved Deep Metric Learning with Multi-class N-pair Loss
Objective"), the paper's reference [24], as TensorFlow's ``npairs_loss`` computes it.

The reference is ``npairs_loss(labels, embeddings_anchor, embeddings_positive, reg_lambda=0.002)``
of TensorFlow 1.x (``tensorflow/contrib/losses/python/metric_learning/metric_loss_ops.py``, later
``tf.contrib.losses.metric_learning.npairs_loss``), for (anchor, positive) pairs with labels l::

    S = A P^T                                   (raw inner products: "should not be l2 normalized")
    T_ij = [l_i == l_j] / sum_k [l_i == l_k]      (each anchor's positives share the target mass)
    loss = mean_i sum_j -T_ij log softmax(S_i)_j + 0.25 reg_lambda (mean_i ||a_i||^2 + mean_i ||p_i||^2)

Pairs of a batch: every class with k images gives floor(k / 2) disjoint (anchor, positive) pairs,
its images taken in batch order (1st with 2nd, 3rd with 4th, ...), so an m-per-class batch with
m even uses every image (m = 4: two pairs per class), and with m odd one image per class is left
out. Two pairs of the same class are handled as the reference handles equal labels: the target
of each anchor spreads over the positives of its class (T above), rather than forming two
separate N-pair tuples. Written here because pytorch-metric-learning's ``NPairsLoss`` keeps one
pair per class and applies its regulariser to every embedding of the batch.

Two forms:

- ``form: sohn`` (default): the reference above, ``l2_reg`` its ``reg_lambda`` (0.002);
- ``form: cosine``: S = cos(a, p) / ``temperature`` (0.1 by default), the same regulariser on the
  raw embeddings (``l2_reg``; 0 turns it off). ``temperature`` exists in this form only.

No miner. Needs at least two samples of a class in the batch: use an m-per-class sampler.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Literal

from pydantic import ConfigDict, Field, model_validator

from modbench.losses.base import LossParams, register_loss

# Imports inside functions here: torch and pytorch-metric-learning are imported when the loss is
# built: the registry lists and checks losses (and their parameters) without torch.

if TYPE_CHECKING:
    from torch import Tensor

L2_REG = 0.002  # reg_lambda of TensorFlow's npairs_loss


class NPairParams(LossParams):
    model_config = ConfigDict(strict=True)

    form: Literal["sohn", "cosine"] = Field(
        "sohn", description="sohn: raw inner products (TensorFlow's npairs_loss); cosine: cosine / temperature."
    )
    l2_reg: float = Field(
        L2_REG,
        ge=0,
        allow_inf_nan=False,
        description="reg_lambda: 0.25 * l2_reg * (mean ||a||^2 + mean ||p||^2) over the pairs.",
    )
    temperature: float = Field(
        0.1, gt=0, allow_inf_nan=False, description="Divides cosine similarities (form cosine only)."
    )

    @model_validator(mode="after")
    def _temperature_only_for_cosine(self):
        # A resolved setting carries every parameter at its value, the default temperature
        # included, and is validated again (tuning trials, reports): only a temperature that
        # would mean something is refused under form sohn.
        default = type(self).model_fields["temperature"].default
        if self.form == "sohn" and "temperature" in self.model_fields_set and self.temperature != default:
            raise ValueError("temperature applies to form cosine only (form sohn uses raw inner products)")
        return self


def pair_indices(labels: Tensor) -> tuple[Tensor, Tensor]:
    """(anchor, positive) indices: per class, its images in batch order paired 1st-2nd, 3rd-4th,
    ...; classes in increasing label order."""
    import torch

    order = torch.sort(labels, stable=True).indices
    ordered = labels[order]
    _, counts = torch.unique_consecutive(ordered, return_counts=True)
    starts = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    rank = torch.arange(len(labels), device=labels.device) - starts
    size = torch.repeat_interleave(counts, counts)
    anchor = (rank % 2 == 0) & (rank + 1 < size)
    positions = torch.nonzero(anchor).squeeze(1)
    return order[positions], order[positions + 1]


def npair_loss(embeddings: Tensor, labels: Tensor, form: str, l2_reg: float, temperature: float) -> Tensor:
    """The N-pair loss of the batch (module docstring); a zero attached to the graph when the
    batch has no pair."""
    import torch.nn.functional as F

    anchors, positives = pair_indices(labels)
    if len(anchors) == 0:
        return embeddings.sum() * 0.0
    a, p, pair_labels = embeddings[anchors], embeddings[positives], labels[anchors]
    if form == "sohn":
        logits = a @ p.T
    else:
        logits = F.normalize(a, dim=1) @ F.normalize(p, dim=1).T / temperature
    target = (pair_labels[:, None] == pair_labels[None, :]).to(logits.dtype)
    target = target / target.sum(dim=1, keepdim=True)
    xent = (-target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    penalty = 0.25 * l2_reg * (a.pow(2).sum(dim=1).mean() + p.pow(2).sum(dim=1).mean())
    return xent + penalty


@register_loss(
    "npair",
    family="embedding",
    params=NPairParams,
    description="Multi-class N-pair loss as TensorFlow's npairs_loss: every pair of the batch, reg 0.002.",
    # The default form's one parameter, around the reference's 0.002. temperature (form cosine
    # only) is not searched by default: give it a range in the suite's tune: section.
    search_space={"l2_reg": {"low": 1e-4, "high": 1e-1, "log": True}},
)
def build(params: NPairParams, num_classes: int, embedding_dim: int):
    from torch import nn

    from modbench.losses._common import MetricLoss, check_sizes

    check_sizes(num_classes, embedding_dim)

    class NPair(nn.Module):
        """``npair_loss`` with the (embeddings, labels, indices) call of a pml loss."""

        def __init__(self):
            super().__init__()
            self.form, self.l2_reg, self.temperature = params.form, params.l2_reg, params.temperature
            self.fn = functools.partial(
                npair_loss, form=params.form, l2_reg=params.l2_reg, temperature=params.temperature
            )

        def forward(self, embeddings, labels, indices=None):
            return self.fn(embeddings, labels)

    form = "form=sohn" if params.form == "sohn" else f"form=cosine, temperature={params.temperature}"
    return MetricLoss(
        NPair(),
        embedding_dim,
        loss_scale=params.loss_scale,
        weight_decay=params.weight_decay,
        settings=f"npair: {form}, l2_reg={params.l2_reg}",
    )
