"""The classifier's top-1 accuracy in result.json: for a softmax-family loss, recomputed here
sample by sample from the checkpoint's weights; absent (not 0) for an embedding-only loss."""

from __future__ import annotations

import copy

import torch

from modbench.cache.store import RunStore
from modbench.engine.device_data import DeviceData
from modbench.engine.evaluate import classifier_accuracy
from modbench.engine.runner import Runner
from modbench.suite.loader import load_suite
from modbench.suite.runs import resolve_runs

from helpers import TINY_SUITE


def test_classifier_accuracy_against_a_loop_over_samples():
    torch.manual_seed(0)
    head = torch.nn.Linear(5, 3)
    emb, labels = torch.randn(40, 5), torch.randint(0, 3, (40,))
    correct = 0
    with torch.no_grad():
        for e, y in zip(emb, labels):
            logits = [float(head.weight[c] @ e + head.bias[c]) for c in range(3)]
            correct += max(range(3), key=lambda c: logits[c]) == int(y)
    assert classifier_accuracy(head, emb, labels) == correct / 40


def test_result_holds_the_accuracy_of_softmax_losses_only(write_suite, tmp_path):
    data = copy.deepcopy(TINY_SUITE)
    data["train"]["epochs"] = 1
    suite, source = load_suite(str(write_suite(data)))
    runs = {r.label: r for r in resolve_runs(suite, source, losses=["CE", "Triplet"])}
    store = RunStore(tmp_path)
    eval_cfg = suite.eval.model_dump(mode="json")
    done = {o.run.label: o for o in Runner(store, device=torch.device("cpu")).train(list(runs.values()), eval_cfg)}
    ce = done["CE"].result
    assert ce["family"] == "softmax" and "accuracy" not in ce["eval"]["metrics"]
    # Recomputed independently: the checkpoint's network and classifier, sample by sample.
    from modbench.datasets import load_splits
    from modbench.engine.model import build_model

    state = store.run(runs["CE"].key).load_checkpoint()
    splits = load_splits(runs["CE"].config["dataset"], data_dir=None, download=False)
    model = build_model(runs["CE"].config["backbone"], in_channels=splits.channels, image_size=splits.image_size)
    model.load_state_dict(state["model"])
    data = DeviceData(splits, torch.device("cpu"))
    model.eval()
    weight, bias = state["loss"]["classifier.weight"], state["loss"]["classifier.bias"]
    correct = 0
    with torch.no_grad():
        for image, label in zip(data.test_x, data.test_y):
            e = model(data.normalize(image[None])).float()[0]
            correct += int(torch.argmax(weight @ e + bias)) == int(label)
    assert abs(ce["metrics"]["accuracy"] - correct / len(data.test_y)) < 1e-9
    triplet = done["Triplet"].result
    assert triplet["family"] == "embedding" and "accuracy" not in triplet["metrics"]
