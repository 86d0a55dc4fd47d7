"""Synthetic studies with a known Δ for the verdict tests: per-query outcomes drawn from a logistic
model with class, loss, seed and test-query effects.

    hit[l, s, q] = U[s, q] < sigmoid(a_class(q) + b_l + u_s + e_ls + v_q + g_lq)

a_c: fixed class difficulties (the dataset's classes are fixed; each study draws Q/C test queries
per class); b_l: the loss's effect; u_s ~ N(0, sd_seed²), shared by every loss of seed s (same
initialisation and batches: the within-seed correlation); e_ls ~ N(0, sd_loss_seed²), the loss's
own training noise; v_q ~ N(0, sd_query²), shared by every loss (a hard image is hard for all);
g_lq ~ N(0, sd_loss_query²), the loss's own per-query effect (the test-set noise of Δ); U[s, q]
uniform, shared by the losses of one seed (so that two close losses agree on most queries), or
with ``uniform_per_seed=False`` by every seed too (a query's outcome then changes between seeds
only through the seed effects, as with real trained models, whose seeds disagree on few queries).

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
    uniform_per_seed: bool = True  # False: U[q] is a fixed property of the query, the same in every seed

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
        u = rng.random((studies, 1, seeds if self.uniform_per_seed else 1, labels.size))
        return np.broadcast_to(u, shape) < 1 / (1 + np.exp(-eta)), labels


def records(hit: np.ndarray, labels: np.ndarray) -> dict:
    """Per-query records of one run whose only real outcome is the hit at k = 1."""
    return {"label": labels, "ks": np.array([1]), "hit": hit[:, None], "ap_r": hit.astype(np.float64),
            "nn_label": np.where(hit, labels, (labels + 1) % (labels.max() + 1)), "cluster": labels}


def runs(hit_ls: np.ndarray, labels: np.ndarray) -> list[list[dict]]:
    """[loss][seed] records of one study (hit_ls [losses, seeds, queries])."""
    return [[records(h, labels) for h in per_loss] for per_loss in hit_ls]


def contrasts_at(hit: np.ndarray, labels: np.ndarray, n_seeds: int) -> list[list]:
    """[study][candidate] Contrasts of recall@1 on the first ``n_seeds`` seeds of every study of
    ``hit`` [studies, losses, seeds, queries] (loss 0 the baseline), built from the same variance
    components as ``verdict.contrast`` (``moment_components``) but vectorised over the studies, so
    that the sequential simulations run in seconds. tests/results/test_verdict.py checks that they
    equal ``contrast`` on real records."""
    from modbench.results.verdict import NOISE_BOTH, Contrast, moment_components

    d = hit[:, 1:, :n_seeds].astype(np.float64) - hit[:, :1, :n_seeds]
    seed_var, test_var, df = moment_components(d, labels)
    delta = d.mean(axis=(-1, -2))
    cand, base = hit[:, 1:, :n_seeds].mean(axis=-1), hit[:, :1, :n_seeds].mean(axis=-1)
    return [[Contrast(metric="recall@1", candidate=f"loss {i + 1}", baseline="loss 0", method="moments", n_seeds=n_seeds,
                      n_queries=d.shape[-1], delta=float(delta[s, i]), candidate_mean=float(cand[s, i].mean()),
                      baseline_mean=float(base[s, 0].mean()), per_seed_delta=tuple(cand[s, i] - base[s, 0]), testable=True,
                      se=float(np.sqrt(seed_var[s, i] / n_seeds + test_var[s, i])), df=float(df[s, i]),
                      seed_var=float(seed_var[s, i]), test_var=float(test_var[s, i]), noise=NOISE_BOTH)
             for i in range(d.shape[1])] for s in range(d.shape[0])]


def effect_for_delta(target: float, **model) -> float:
    """The logit effect b of loss 1 that gives a true Δ of ``target`` (bisection)."""
    lo, hi = -3.0, 3.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if Model(effects=(0.0, mid), **model).true_delta(1) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
