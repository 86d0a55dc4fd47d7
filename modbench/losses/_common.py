"""The modules every built-in loss is made of: shape checks, float32 casting, two small modules.

``SoftmaxLoss`` owns the ``Linear(embedding_dim, num_classes)`` classifier of the protocol
and hands float32 logits to a pure criterion function (``criterion(logits, labels) -> scalar``);
``WeightedSoftmaxLoss`` adds ``sample_weights`` for a loss that weights samples. ``MetricLoss``
wraps a pytorch-metric-learning loss (and optionally a miner) so that every embedding-family loss
checks its inputs the same way. Both multiply the loss by ``loss_scale`` and declare the
optimizer settings of their own parameters in ``param_groups()`` (see ``base.py``).

Being generic, these let a loss file hold only its parameters, its formula and ``build``: the
file imports torch inside its functions and stays importable without torch.

Empty batch (B = 0), for every loss: the result is a zero scalar that is still attached to the
graph, so ``backward()`` runs and leaves zero gradients, instead of the NaN that a mean over
nothing would give.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

_WIDE_FLOATS = (torch.float32, torch.float64)


def at_least_float32(x: Tensor) -> Tensor:
    """``x`` in float32 unless it is already float32 or float64 (float64 is kept for gradcheck).

    Under autocast a Linear gives float16/bfloat16 logits; log_softmax of those loses the small
    probabilities the losses depend on, so every criterion works in float32 at least.
    """
    return x if x.dtype in _WIDE_FLOATS else x.float()


def full_precision(device: torch.device):
    """A context in which autocast is off on ``device``: the criterion's matmuls, exps and logs
    run in the dtype of their inputs (float32 here), not in float16/bfloat16."""
    try:
        return torch.autocast(device_type=device.type, enabled=False)
    except RuntimeError:  # a device type autocast does not know: nothing to turn off
        return contextlib.nullcontext()


def check_logits_and_target(logits: Tensor, target: Tensor) -> None:
    """``logits`` [B, C] floating, ``target`` [B] integer class indices."""
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape [B, C], got {tuple(logits.shape)}")
    if not logits.is_floating_point():
        raise ValueError(f"logits must be floating point, got {logits.dtype}")
    if target.dim() != 1 or target.shape[0] != logits.shape[0]:
        raise ValueError(
            f"target must have shape [B] = [{logits.shape[0]}], got {tuple(target.shape)}"
        )
    if target.is_floating_point() or target.dtype == torch.bool:
        raise ValueError(f"target must hold integer class indices, got {target.dtype}")


def check_embeddings_and_labels(embeddings: Tensor, labels: Tensor, embedding_dim: int) -> None:
    """``embeddings`` [B, embedding_dim] floating, ``labels`` [B] integer."""
    if embeddings.dim() != 2 or embeddings.shape[1] != embedding_dim:
        raise ValueError(
            f"embeddings must have shape [B, {embedding_dim}], got {tuple(embeddings.shape)}"
        )
    if not embeddings.is_floating_point():
        raise ValueError(f"embeddings must be floating point, got {embeddings.dtype}")
    if labels.dim() != 1 or labels.shape[0] != embeddings.shape[0]:
        raise ValueError(
            f"labels must have shape [B] = [{embeddings.shape[0]}], got {tuple(labels.shape)}"
        )
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise ValueError(f"labels must hold integer class indices, got {labels.dtype}")


def check_sizes(num_classes: int, embedding_dim: int) -> None:
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if embedding_dim < 1:
        raise ValueError(f"embedding_dim must be >= 1, got {embedding_dim}")


def zero_attached(x: Tensor) -> Tensor:
    """A float32 zero scalar that depends on ``x``, so backward() runs and gives zeros."""
    return at_least_float32(x).sum() * 0.0


def reduce(losses: Tensor, reduction: str) -> Tensor:
    """``mean`` (zero for an empty batch, never NaN), ``sum`` or ``none``."""
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean":
        return losses.sum() / max(losses.shape[0], 1)
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def group(
    params: list[Tensor],
    *,
    optimizer: str | None = None,
    lr: float | None = None,
    weight_decay: float = 0.0,
    momentum: float | None = None,
    lr_multiplier: float = 1.0,
    source: str = "",
) -> dict[str, Any]:
    """One entry of ``param_groups()``: ``None`` means "the suite's optimizer / learning rate"
    (times ``lr_multiplier`` when ``lr`` is None); ``source`` says where the setting comes from
    (shown in result.json)."""
    return {
        "params": params,
        "optimizer": optimizer,
        "lr": lr,
        "lr_multiplier": lr_multiplier,
        "weight_decay": weight_decay,
        "momentum": momentum,
        "source": source,
    }


class _LossModule(nn.Module):
    """What both families share: ``loss_scale``, default groups, a readable repr."""

    family = "embedding"

    def __init__(self, *, loss_scale: float = 1.0, weight_decay: float = 0.0, settings: str = ""):
        super().__init__()
        self.loss_scale = float(loss_scale)
        self.weight_decay = float(weight_decay)
        self.settings = settings

    def param_groups(self) -> dict[str, dict[str, Any]]:
        """Every learnable parameter of the loss in one group: the suite's optimizer and
        learning rate, decay only when the suite sets the loss's ``weight_decay``."""
        params = [p for p in self.parameters() if p.requires_grad]
        if not params:
            return {}
        return {"loss": group(params, weight_decay=self.weight_decay, source="suite")}

    def scaled(self, loss: Tensor) -> Tensor:
        return loss if self.loss_scale == 1.0 else loss * self.loss_scale

    def extra_repr(self) -> str:
        scale = "" if self.loss_scale == 1.0 else f", loss_scale={self.loss_scale}"
        return f"{self.settings}{scale}"


class SoftmaxLoss(_LossModule):
    """Base of the softmax family: a classifier on the embedding, a criterion on its logits."""

    family = "softmax"

    def __init__(
        self,
        num_classes: int,
        embedding_dim: int,
        criterion: Callable[[Tensor, Tensor], Tensor] | None = None,
        **kwargs: Any,
    ):
        """``criterion(logits, labels) -> scalar``; a subclass may define a ``criterion`` method
        instead (and pass none)."""
        super().__init__(**kwargs)
        check_sizes(num_classes, embedding_dim)
        self.num_classes = num_classes
        self.embedding_dim = embedding_dim
        self.classifier = nn.Linear(embedding_dim, num_classes)
        if criterion is not None:
            self.criterion = criterion
        elif not callable(getattr(type(self), "criterion", None)):
            raise TypeError("SoftmaxLoss needs a criterion function or a criterion method")

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        check_embeddings_and_labels(embeddings, labels, self.embedding_dim)
        logits = self.classifier(embeddings)  # under autocast, if any, like the backbone
        with full_precision(logits.device):
            logits = at_least_float32(logits)
            if logits.shape[0] == 0:
                return zero_attached(logits)
            return self.scaled(self.criterion(logits, labels))


class WeightedSoftmaxLoss(SoftmaxLoss):
    """A softmax-family loss whose samples carry a weight: ``weight_fn(logits, labels) -> [B]``.

    ``sample_weights`` lets the engine log the share of training samples the loss all but
    ignores (weight < 1e-3).
    """

    def __init__(self, num_classes, embedding_dim, criterion, weight_fn, **kwargs):
        super().__init__(num_classes, embedding_dim, criterion, **kwargs)
        self.weight_fn = weight_fn

    @torch.no_grad()
    def sample_weights(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        """The per-sample weight of the loss, shape [B], without gradient."""
        check_embeddings_and_labels(embeddings, labels, self.embedding_dim)
        logits = self.classifier(embeddings)
        with full_precision(logits.device):
            return self.weight_fn(at_least_float32(logits), labels)


class MetricLoss(_LossModule):
    """A pytorch-metric-learning loss on the embeddings, with an optional miner.

    Embeddings are cast to float32 and autocast is turned off around the miner and the loss
    (pml's distances and exp-based losses are not float16-safe).
    pml L2-normalises embeddings in its default distance, as the evaluation does.
    ``groups`` (name -> ``group(...)`` settings without ``params``, plus ``"prefix"``: the
    parameter names it takes) gives some of the loss's parameters their own optimizer settings.
    """

    family = "embedding"

    def __init__(
        self,
        loss: nn.Module,
        embedding_dim: int,
        miner: nn.Module | None = None,
        groups: dict[str, dict[str, Any]] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.embedding_dim = embedding_dim
        self.loss = loss
        self.miner = miner
        self.groups = groups or {}

    def param_groups(self) -> dict[str, dict[str, Any]]:
        named = [(n, p) for n, p in self.named_parameters() if p.requires_grad]
        out, taken = {}, set()
        for name, setting in self.groups.items():
            setting = dict(setting)
            prefix = setting.pop("prefix")
            params = [p for n, p in named if n.startswith(prefix)]
            taken.update(id(p) for p in params)
            if params:
                out[name] = group(params, **setting)
        rest = [p for _, p in named if id(p) not in taken]
        if rest:
            out["loss"] = group(rest, weight_decay=self.weight_decay, source="suite")
        return out

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        check_embeddings_and_labels(embeddings, labels, self.embedding_dim)
        with full_precision(embeddings.device):
            embeddings = at_least_float32(embeddings)
            if embeddings.shape[0] == 0:
                return zero_attached(embeddings)
            indices = self.miner(embeddings, labels) if self.miner is not None else None
            loss = self.loss(embeddings, labels, indices)
            if not torch.is_tensor(loss):  # pml may return a plain 0 when nothing contributes
                return zero_attached(embeddings)
            return self.scaled(loss)


class PluginLoss(_LossModule):
    """A user's loss (``modbench/plugins.py``) with modbench's controls around it: checks its
    output is a scalar, multiplies it by ``loss_scale``, keeps its ``.classifier`` (softmax
    family), ``param_groups()`` and ``sample_weights`` visible."""

    def __init__(self, inner: nn.Module, family: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.inner = inner
        self.family = family
        if hasattr(inner, "sample_weights"):
            self.sample_weights = inner.sample_weights

    @property
    def classifier(self) -> nn.Module:
        return self.inner.classifier

    def param_groups(self) -> dict[str, dict[str, Any]]:
        if hasattr(self.inner, "param_groups"):
            return self.inner.param_groups()
        return super().param_groups()

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        loss = self.inner(embeddings, labels)
        if not torch.is_tensor(loss) or loss.dim() != 0:
            shape = tuple(loss.shape) if torch.is_tensor(loss) else type(loss).__name__
            raise ValueError(f"loss {self.settings} must return a scalar tensor, got {shape}")
        return self.scaled(loss)
