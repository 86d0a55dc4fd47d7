"""Synthetic studies with a known Δ for the verdict tests: per-query outcomes drawn from a logistic
model with class, loss, seed and test-query effects.

    hit[l, s, q] = U[s, q] < sigmoid(a_class(q) + b_l + u_s + e_ls + v_q + g_lq)

a_c: fixed class difficulties (the dataset's classes are fixed; each study draws Q/C test queries
per class); b_l: the loss's effect; u_s ~ N(0, sd_seed²), shared by every loss of seed s (same
initialisation and batches: the within-seed correlation); e_ls ~ N(0, sd_loss_seed²), the loss's
own training noise; v_q ~ N(0, sd_query²), shared by every loss (a hard image is hard for all);
g_lq ~ N(0, sd_loss_query²), the loss's own per-query effect (the test-set noise of Δ); U[s, q]
uniform, shared by the losses of one seed (so that two close losses agree on most queries).

The true Δ of loss l is the expectation over seeds and test queries of P(hit | l) - P(hit | 0),
computed by Gauss-Hermite quadrature, independently of the estimators under test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Model:
    n_classes: int = 10
    sd_seed: float = 0.3
    sd_loss_seed: float = 0.1
    sd_query: float = 1.0
    sd_loss_query: float = 0.3
    effects: tuple[float, ...] = (0.0, 0.1)  # b_l, loss 0 is the baseline

    @property
    def class_difficulty(self) -> np.ndarray:
        return np.linspace(-0.5, 2.5, self.n_classes)

    def true_delta(self, loss: int) -> float:
        """E[P(hit | loss)] - E[P(hit | baseline)] over seeds and test queries (class-balanced)."""
        z, w = np.polynomial.hermite_e.hermegauss(80)
        w = w / w.sum()
        sd = np.sqrt(self.sd_seed**2 + self.sd_loss_seed**2 + self.sd_query**2 + self.sd_loss_query**2)

        def mean_p(b):
            eta = self.class_difficulty[:, None] + b + sd * z[None, :]
            return float(((1 / (1 + np.exp(-eta))) @ w).mean())

        return mean_p(self.effects[loss]) - mean_p(self.effects[0])

    def hits(self, rng: np.random.Generator, studies: int, seeds: int, queries: int) -> tuple[np.ndarray, np.ndarray]:
        """(hit [studies, losses, seeds, queries] bool, labels [queries])."""
        per = queries // self.n_classes
        labels = np.repeat(np.arange(self.n_classes), per)
        n_loss = len(self.effects)
        shape = (studies, n_loss, seeds, labels.size)
        eta = (self.class_difficulty[labels] + np.asarray(self.effects)[None, :, None, None]
               + rng.normal(0, self.sd_seed, (studies, 1, seeds, 1))
               + rng.normal(0, self.sd_loss_seed, (studies, n_loss, seeds, 1))
               + rng.normal(0, self.sd_query, (studies, 1, 1, labels.size))
               + rng.normal(0, self.sd_loss_query, (studies, n_loss, 1, labels.size)))
        u = rng.random((studies, 1, seeds, labels.size))
        return np.broadcast_to(u, shape) < 1 / (1 + np.exp(-eta)), labels


def records(hit: np.ndarray, labels: np.ndarray) -> dict:
    """Per-query records of one run whose only real outcome is the hit at k = 1."""
    return {"label": labels, "ks": np.array([1]), "hit": hit[:, None], "ap_r": hit.astype(np.float64),
            "nn_label": np.where(hit, labels, (labels + 1) % (labels.max() + 1)), "cluster": labels}


def runs(hit_ls: np.ndarray, labels: np.ndarray) -> list[list[dict]]:
    """[loss][seed] records of one study (hit_ls [losses, seeds, queries])."""
    return [[records(h, labels) for h in per_loss] for per_loss in hit_ls]
