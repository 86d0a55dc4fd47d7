"""Triplet margin loss (Hoffer and Ailon 2015; the paper's reference [6]) as FaceNet trains it
(Schroff, Kalenichenko and Philbin 2015), with a miner.

On the L2-normalised embeddings, with squared Euclidean distances d(x, y) = ||x - y||^2
(FaceNet's equation (1); pml's ``LpDistance(power=2)``)::

    l(a, p, n) = max(0, d(a, p) - d(a, n) + margin)

averaged over the selected triplets (FaceNet's ``triplet_loss``: ``reduce_mean`` of the hinge,
davidsandberg/facenet ``src/facenet.py`` lines 56-60; pml's ``MeanReducer``). Margin 0.2:
FaceNet's alpha (section 3; facenet ``src/train_tripletloss.py`` line 446, ``--alpha`` 0.2), on
squared distances, as Wu et al. 2017 use it too. ``distance: l2`` measures plain Euclidean
distances instead (pml's default; near d = 1 the same margin is then about twice as wide).

Miner: by default FaceNet's semi-hard negatives (section 3.2, equation (4) and the text after
it): d(a, p) < d(a, n) <= d(a, p) + margin, on the same squared distances, found by pml's
``TripletMarginMiner(type_of_triplets="semihard")``. FaceNet keeps every anchor-positive pair and
one negative for each (``negatives: one-per-pair``, the default): here one drawn uniformly at
random among the pair's negatives in the window, as the reference code draws it
(``select_triplets``, ``src/train_tripletloss.py`` lines 290-300; its line 295 is the
"FaceNet selection" window used here, line 296 the looser VGG Face window it runs with). Pairs
are ordered, (a, p) and (p, a) both, as "all anchor-positive pairs" reads; the code takes each
unordered pair once. ``negatives: all`` keeps every negative in the window (pml's behaviour).
Other miners:

- ``hard``: d(a, n) <= d(a, p); ``all``: every triplet violating the margin; ``none``: every
  triplet of the batch. Each with ``negatives`` as above.
- ``batch-hard``: ``BatchHardMiner`` (Hermans et al. 2017), the hardest positive and negative
  of each anchor: one negative per anchor by construction (``negatives: all`` is refused).

Triplets need at least two samples of a class in the batch: use an m-per-class sampler.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from modbench.losses.base import LossParams, register_loss

# Imports inside functions here: torch and pytorch-metric-learning are imported when the loss is
# built: the registry lists and checks losses (and their parameters) without torch.

MinerName = Literal["semihard", "hard", "all", "batch-hard", "none"]
MARGIN = 0.2  # FaceNet's alpha, on squared distances


class TripletParams(LossParams):
    model_config = ConfigDict(strict=True)

    margin: float = Field(
        MARGIN,
        gt=0,
        le=4.0,  # squared distances of unit vectors lie in [0, 4]
        allow_inf_nan=False,
        description="Required gap d(a, n) - d(a, p); FaceNet's alpha 0.2 on squared distances.",
    )
    miner: MinerName = Field("semihard", description="Which triplets the loss sees.")
    negatives: Literal["one-per-pair", "all"] = Field(
        "one-per-pair",
        description="one-per-pair: one random negative of the window per anchor-positive pair "
        "(FaceNet); all: every negative in the window.",
    )
    distance: Literal["squared-l2", "l2"] = Field(
        "squared-l2",
        description="squared-l2: FaceNet's ||a - b||^2; l2: Euclidean (pml's default).",
    )

    @model_validator(mode="after")
    def _negatives_apply(self):
        if self.miner == "batch-hard" and self.negatives == "all":
            raise ValueError("miner batch-hard keeps one negative per anchor: negatives 'all' does not apply")
        return self


def make_distance(name: str):
    from pytorch_metric_learning import distances

    return distances.LpDistance(power=2 if name == "squared-l2" else 1)


def one_negative_per_pair(triplets):
    """Of the triplets (a, p, n), one per (a, p), drawn uniformly at random among the pair's
    negatives (torch's global generator, as pml's random miners use). Written here because pml
    has no miner that keeps one negative per pair."""
    import torch

    anchors, positives, negatives = triplets
    if len(anchors) == 0:
        return triplets
    order = torch.randperm(len(anchors), device=anchors.device)
    key = (anchors * (int(positives.max()) + 1) + positives)[order]
    key, by_key = torch.sort(key, stable=True)  # the random order kept within each pair
    first = torch.ones_like(key, dtype=torch.bool)
    first[1:] = key[1:] != key[:-1]
    chosen = order[by_key[first]]
    return anchors[chosen], positives[chosen], negatives[chosen]


def make_miner(name: MinerName, margin: float, negatives: str = "all", distance: str = "l2"):
    """The miner of ``name`` on ``distance``; with ``negatives: one-per-pair`` it keeps one
    negative per anchor-positive pair of the window."""
    import torch
    from pytorch_metric_learning import miners
    from pytorch_metric_learning.utils import loss_and_miner_utils as lmu

    if name == "batch-hard":
        return miners.BatchHardMiner(distance=make_distance(distance))
    if name in ("semihard", "hard", "all"):
        window = miners.TripletMarginMiner(
            margin=margin, type_of_triplets=name, distance=make_distance(distance)
        )
    elif name == "none":
        if negatives == "all":
            return None
        window = None
    else:
        raise ValueError(f"unknown triplet miner {name!r}")
    if negatives == "all":
        return window

    class OnePerPair(torch.nn.Module):
        """The window's triplets (every triplet for miner ``none``), one negative per pair."""

        def __init__(self):
            super().__init__()
            self.window = window
            self.margin, self.type_of_triplets = margin, name

        def forward(self, embeddings, labels):
            if self.window is None:
                triplets = lmu.get_all_triplets_indices(labels)
            else:
                triplets = self.window(embeddings, labels)
            return one_negative_per_pair(triplets)

    return OnePerPair()


@register_loss(
    "triplet",
    family="embedding",
    params=TripletParams,
    description="Triplet loss as FaceNet: squared distances, margin 0.2, one semi-hard negative per pair.",
    # "A Metric Learning Reality Check" (Musgrave et al. 2020) tunes the margin; squared
    # distances of unit vectors lie in [0, 4] (FaceNet, Wu et al.: 0.2).
    search_space={"margin": {"low": 0.01, "high": 2.0, "log": True}},
)
def build(params: TripletParams, num_classes: int, embedding_dim: int):
    from pytorch_metric_learning import losses, reducers

    from modbench.losses._common import MetricLoss, check_sizes

    check_sizes(num_classes, embedding_dim)
    module = MetricLoss(
        losses.TripletMarginLoss(
            margin=params.margin, distance=make_distance(params.distance), reducer=reducers.MeanReducer()
        ),
        embedding_dim,
        make_miner(params.miner, params.margin, params.negatives, params.distance),
        loss_scale=params.loss_scale,
        weight_decay=params.weight_decay,
        settings=f"triplet: margin={params.margin} on {params.distance}, miner={params.miner!r}, "
        f"negatives={params.negatives!r}",
    )
    module.margin, module.miner_name = params.margin, params.miner
    return module
