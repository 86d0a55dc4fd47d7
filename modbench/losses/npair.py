"""N-pair loss (Sohn 2016, "Improved Deep Metric Learning with Multi-class N-pair Loss
Objective"), the paper's reference [24], as pytorch-metric-learning's ``NPairsLoss``.

From each class present in the batch pml takes one (anchor, positive) pair (Sohn's N-pair-mc
batch: N pairs of N different classes); each anchor is classified among all positives by a
softmax over their similarities. Two forms:

- ``form: sohn`` (default), Sohn's N-pair-mc loss: inner products of the raw, unnormalised
  embeddings, with an L2 penalty ``l2_reg`` on the squared embedding norms (0.002, the
  ``reg_lambda`` of TensorFlow's ``npairs_loss``, an implementation of Sohn's loss). pml applies the penalty to every embedding of the batch, Sohn to those of the
  pairs (with an m-per-class sampler the difference is which of the m images count).
- ``form: cosine``: cosine similarity divided by ``temperature`` (0.1 by default, no penalty).
  pml's default is cosine without a temperature, whose logits lie in [-1, 1]: the loss cannot
  fall below ~log(1 + (N - 1) e^-2) even at the ideal solution.

Limitation (pml's and Sohn's construction): only one pair per class of a batch is used, so
with ``m`` images per class, m - 2 of them do not enter the loss. No miner. Needs at least two
samples of a class in the batch: use an m-per-class sampler.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from modbench.losses.base import LossParams, register_loss

L2_REG = 0.002  # reg_lambda of tf.contrib.losses.metric_learning.npairs_loss (Sohn 2016)


class NPairParams(LossParams):
    model_config = ConfigDict(strict=True)

    form: Literal["sohn", "cosine"] = Field(
        "sohn", description="sohn: raw inner products + L2 penalty; cosine: cosine / temperature."
    )
    l2_reg: float = Field(
        L2_REG, ge=0, allow_inf_nan=False, description="Penalty on squared norms (form sohn)."
    )
    temperature: float = Field(
        0.1, gt=0, allow_inf_nan=False, description="Divides cosine similarities (form cosine)."
    )


@register_loss(
    "npair",
    family="embedding",
    params=NPairParams,
    description="Multi-class N-pair loss (Sohn 2016): raw inner products and L2 penalty, or cosine/T.",
    search_space={"l2_reg": {"low": 1e-4, "high": 1e-1, "log": True},
                  "temperature": {"low": 0.01, "high": 1.0, "log": True}},
)
def build(params: NPairParams, num_classes: int, embedding_dim: int):
    from pytorch_metric_learning import distances, losses, regularizers

    from modbench.losses._common import MetricLoss, check_sizes

    check_sizes(num_classes, embedding_dim)
    if params.form == "sohn":
        loss = losses.NPairsLoss(
            distance=distances.DotProductSimilarity(normalize_embeddings=False),
            embedding_regularizer=regularizers.LpRegularizer(power=2),
            embedding_reg_weight=params.l2_reg,
        )
        settings = f"npair: form=sohn, l2_reg={params.l2_reg}"
    else:
        temperature = params.temperature

        class ScaledCosine(distances.CosineSimilarity):
            """Cosine similarity / temperature (pml's distances have no scale of their own)."""

            def compute_mat(self, query_emb, ref_emb):
                return super().compute_mat(query_emb, ref_emb) / temperature

        loss = losses.NPairsLoss(distance=ScaledCosine())
        settings = f"npair: form=cosine, temperature={temperature}"
    return MetricLoss(
        loss,
        embedding_dim,
        loss_scale=params.loss_scale,
        weight_decay=params.weight_decay,
        settings=settings,
    )
