"""``pml:ClassName``: any pytorch-metric-learning loss, its params model from its signature."""

from __future__ import annotations

import pydantic
import pytest
import torch
from pytorch_metric_learning import losses

from modbench.errors import UnknownNameError
from modbench.losses import resolve_loss
from modbench.losses.base import LossParams
from modbench.losses.pml import constructor_parameters, pml_classes

from .conftest import EMBEDDING_DIM, NUM_CLASSES, train_steps


def test_contrastive_params_come_from_the_signature(batch):
    spec = resolve_loss("pml:ContrastiveLoss")
    assert spec.family == "embedding" and issubclass(spec.params, LossParams)
    assert spec.params().model_dump() == {"pos_margin": 0, "neg_margin": 1, "loss_scale": 1.0, "weight_decay": 0.0}
    params = spec.params(pos_margin=0.1, neg_margin=0.8)
    module = spec.build(params, NUM_CLASSES, EMBEDDING_DIM)
    assert isinstance(module.loss, losses.ContrastiveLoss)
    embeddings, labels = batch
    value = module(embeddings, labels)
    direct = losses.ContrastiveLoss(pos_margin=0.1, neg_margin=0.8)(embeddings, labels)
    assert value.item() == pytest.approx(direct.item(), rel=1e-6)
    other = spec.build(spec.params(pos_margin=0.1, neg_margin=1.5), NUM_CLASSES, EMBEDDING_DIM)
    assert other(embeddings, labels).item() != pytest.approx(value.item())  # params are used
    value.backward()
    assert torch.isfinite(embeddings.grad).all()


def test_unknown_keyword_and_object_keywords_refused():
    spec = resolve_loss("pml:ContrastiveLoss")
    for bad in [{"margin": 0.5}, {"distance": "cosine"}, {"reducer": None}, {"neg_margin": "1"}]:
        with pytest.raises(pydantic.ValidationError):
            spec.params(**bad)


def test_sizes_filled_automatically():
    spec = resolve_loss("pml:ProxyNCALoss")
    # softmax_scale comes from NCALoss, through ProxyNCALoss's **kwargs.
    assert set(spec.params().model_dump()) == {"softmax_scale", "loss_scale", "weight_decay"}
    module = spec.build(spec.params(softmax_scale=2.0), NUM_CLASSES, EMBEDDING_DIM)
    assert module.loss.proxies.shape == (NUM_CLASSES, EMBEDDING_DIM)
    assert module.loss.softmax_scale == 2.0
    assert any(p is module.loss.proxies for p in module.parameters())
    with pytest.raises(pydantic.ValidationError):
        spec.params(num_classes=3)  # never set by hand
    arcface = resolve_loss("pml:ArcFaceLoss").build(
        resolve_loss("pml:ArcFaceLoss").params(), NUM_CLASSES, EMBEDDING_DIM
    )
    assert arcface.loss.W.shape == (EMBEDDING_DIM, NUM_CLASSES)


def test_required_keywords_are_required_fields(batch):
    spec = resolve_loss("pml:RankedListLoss")
    with pytest.raises(pydantic.ValidationError):
        spec.params()
    module = spec.build(spec.params(margin=0.4, Tn=10), NUM_CLASSES, EMBEDDING_DIM)
    embeddings, labels = batch
    assert torch.isfinite(module(embeddings, labels))


def test_unknown_class_suggests_closest():
    with pytest.raises(UnknownNameError) as info:
        resolve_loss("pml:ContrastivLoss")
    assert info.value.exit_code == 2
    assert "did you mean 'pml:ContrastiveLoss'" in str(info.value)
    for not_a_loss in ["pml:BaseMetricLossFunction", "pml:GenericPairLoss", "pml:VICRegLoss",
                       "pml:CrossBatchMemory", "pml:"]:
        with pytest.raises(UnknownNameError):
            resolve_loss(not_a_loss)
    with pytest.raises(UnknownNameError) as info:
        resolve_loss("ContrastiveLoss")  # the prefix forgotten
    assert "did you mean 'pml:ContrastiveLoss'" in str(info.value)


def test_constructor_parameters_follow_kwargs():
    names = set(constructor_parameters(losses.ProxyNCALoss))
    assert {"num_classes", "embedding_size", "softmax_scale", "distance"} <= names
    assert "margin" in constructor_parameters(losses.TripletMarginLoss)


NO_REQUIRED = [
    name
    for name in pml_classes()
    if not any(f.is_required() for f in resolve_loss("pml:" + name).params.model_fields.values())
]


@pytest.mark.parametrize("name", NO_REQUIRED)
def test_every_pml_loss_builds_with_defaults(name, batch):
    spec = resolve_loss("pml:" + name)
    module = spec.build(spec.params(), NUM_CLASSES, EMBEDDING_DIM)
    embeddings, labels = batch
    value = module(embeddings, labels)
    assert value.shape == () and torch.isfinite(value)
    value.backward()
    assert torch.isfinite(embeddings.grad).all()


def test_lowers_its_own_value():
    before, after = train_steps(resolve_loss("pml:ContrastiveLoss"), steps=30)
    assert after < before
