"""Poly-1 loss (Leng et al. 2022, "PolyLoss: A Polynomial Expansion Perspective of
Classification Loss Functions", equation 3): cross-entropy plus epsilon * (1 - p_t).

A complete modbench loss plugin (docs/extending.md). Use it in a suite beside the built-in
losses, the path relative to the suite file:

    losses:
      - name: cross-entropy
      - name: ./poly_loss.py:PolyLoss
        label: Poly-1
        params: {epsilon: 2.0}
"""

import torch
import torch.nn.functional as F
from torch import nn


class PolyLoss(nn.Module):
    """Poly-1: cross-entropy + epsilon * (1 - p_t), on the logits of its own classifier."""

    family = "softmax"  # it owns a classifier on the embedding; "embedding" losses do not

    def __init__(self, num_classes: int, embedding_dim: int, epsilon: float = 1.0):
        super().__init__()  # num_classes and embedding_dim are filled in by modbench
        self.classifier = nn.Linear(embedding_dim, num_classes)
        self.epsilon = epsilon

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = self.classifier(embeddings).float()  # float32, also under mixed precision
        ce = F.cross_entropy(logits, labels, reduction="none")
        p_t = torch.exp(-ce)
        return (ce + self.epsilon * (1 - p_t)).mean()
