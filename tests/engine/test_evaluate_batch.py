"""The CPU evaluation batch (``evaluate.EVAL_BATCH``) changed the cost, not the embeddings: for
small-cnn the default gives the same bits as batches of 1024 (the earlier default) and 64. Not a
law of the CPU kernels: a batch of one image differs in the last bits (oneDNN picks other
kernels), which is why the default was chosen among batches measured identical."""

from __future__ import annotations

import torch

from modbench.datasets.base import DataSplits
from modbench.engine.device_data import DeviceData
from modbench.engine.evaluate import EVAL_BATCH, embed
from modbench.engine.model import build_model


def test_default_cpu_batch_gives_the_embeddings_of_any_other_batch():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (1_100, 1, 28, 28), dtype=torch.uint8, generator=g)
    labels = torch.zeros(len(images), dtype=torch.int64)
    splits = DataSplits("t", 10, images[:2], labels[:2], images[:2], labels[:2], images, labels, (0.3,), (0.2,))
    data = DeviceData(splits, torch.device("cpu"))
    torch.manual_seed(0)
    model = build_model({"name": "small-cnn", "embedding_dim": 64}, in_channels=1, image_size=28)
    model.to(memory_format=torch.channels_last)
    default = embed(model, images, data)
    assert EVAL_BATCH["cpu"] < len(images)  # several batches, a short last one
    assert torch.equal(default, embed(model, images, data, batch_size=1024))
    assert torch.equal(default, embed(model, images, data, batch_size=64))
