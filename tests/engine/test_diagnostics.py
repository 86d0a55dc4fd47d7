"""Why a loss loses: each epoch records the classifier's training accuracy (softmax family) and
the share of training samples whose loss weight is below 1e-3 (losses that define a weight),
over the samples as they were trained on; and result.json records the optimizer groups."""

from __future__ import annotations

import json

import torch
from torch import nn

from modbench.cache.store import RunStore
from modbench.engine.device_data import DeviceData
from modbench.engine.loop import LOW_WEIGHT, StepParts, place, plan_epoch, train_epoch

from .conftest import tiny_splits
from .test_loop import TRAIN_CFG, Net


class WeightedLoss(nn.Module):
    """Cross-entropy on a classifier with the paper's per-sample weight softmax(-beta z)[y]."""

    def __init__(self, dim=6, classes=4, beta=4.0):
        super().__init__()
        self.classifier = nn.Linear(dim, classes)
        self.beta = beta

    def sample_weights(self, emb, labels):
        return torch.softmax(-self.beta * self.classifier(emb), dim=1).gather(1, labels[:, None])[:, 0]

    def forward(self, emb, labels):
        return nn.functional.cross_entropy(self.classifier(emb), labels)


def test_accuracy_and_low_weight_share_match_a_naive_count():
    data = DeviceData(tiny_splits(n=80), torch.device("cpu"))
    plan = plan_epoch(data, TRAIN_CFG, torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    model, loss_fn = Net(), WeightedLoss()
    with torch.no_grad():  # large logits, so that some weights fall below 1e-3
        loss_fn.classifier.weight.mul_(40)
    place(model, loss_fn, torch.device("cpu"))
    opt = torch.optim.SGD([*model.parameters(), *loss_fn.parameters()], lr=0.0)  # weights stay fixed
    parts = StepParts.create(model, loss_fn, opt, torch.device("cpu"))
    result = train_epoch(parts, data, plan)

    correct = low = total = 0
    with torch.no_grad():
        for step in range(plan.steps):
            emb = model(data.train_batch(plan.batches[step]))
            labels = plan.labels[step]
            logits = loss_fn.classifier(emb)
            for i in range(len(labels)):  # sample by sample, from the definitions
                total += 1
                correct += int(int(logits[i].argmax()) == int(labels[i]))
                low += int(float(torch.softmax(-4.0 * logits[i], 0)[labels[i]]) < LOW_WEIGHT)
    assert 0 < low < total  # the case is not trivial
    assert result.diagnostics == {"train_accuracy": correct / total, "low_weight_share": low / total}


def test_a_loss_without_classifier_or_weights_records_neither():
    class Plain(nn.Module):
        def forward(self, emb, labels):
            return emb.pow(2).mean()

    data = DeviceData(tiny_splits(n=40), torch.device("cpu"))
    model = Net()
    parts = StepParts.create(model, Plain(), torch.optim.SGD(model.parameters(), lr=0.1), torch.device("cpu"))
    assert train_epoch(parts, data, plan_epoch(data, TRAIN_CFG, torch.Generator().manual_seed(0))).diagnostics == {}


def test_history_and_result_record_them(cli, tiny_suite, cache_dir):
    done = cli("train", "--suite", tiny_suite, "--cache-dir", cache_dir, "--device", "cpu", "--epochs", "1",
               "--loss", "CE", "--loss", "Triplet")
    assert done.exit_code == 0, done.stderr
    by_loss = {}
    for run_dir in RunStore(cache_dir).all_runs():
        result = run_dir.result()
        by_loss[result["config"]["loss"]["name"]] = (json.loads(run_dir.history_file.read_text()), result)
    (ce_epoch,), ce_result = by_loss["cross-entropy"]
    (tr_epoch,), tr_result = by_loss["triplet"]
    assert 0 <= ce_epoch["train_accuracy"] <= 1 and "train_accuracy" not in tr_epoch
    assert ce_epoch["run"] == ce_result["key"] and ce_epoch["train_loss"] > 0
    groups = {g["group"]: g for g in ce_result["optimizer_groups"]}  # engine/optim.py's description
    assert groups["network"]["optimizer"] == "adam" and groups["network"]["lr"] == 1.0e-3
    assert groups["network"]["weight_decay"] == 4.0e-4
    (classifier,) = [g for name, g in groups.items() if name != "network"]
    assert classifier["numel"] == 16 * 10 + 10 and classifier["weight_decay"] == 0.0  # CE's Linear(16, 10)
    assert [g["group"] for g in tr_result["optimizer_groups"]] == ["network"]  # triplet: no parameters of its own


def test_the_progress_line_shows_device_precision_and_threads(tiny_suite, cache_dir):
    """The runs bar names the numerics each run computes with (COLUMNS=200 keeps it on one line)."""
    import io

    import torch
    from rich.console import Console

    from modbench.cache.store import RunStore
    from modbench.render.progress import RichObserver
    from modbench.engine.runner import Runner
    from modbench.suite.loader import load_suite
    from modbench.suite.runs import apply_overrides, resolve_runs

    suite, source = load_suite(str(tiny_suite))
    runs = resolve_runs(apply_overrides(suite, epochs=1), source, losses=["CE"])
    buffer = io.StringIO()
    before = torch.get_num_threads()
    try:
        runner = Runner(RunStore(cache_dir), device=torch.device("cpu"))
        with RichObserver(len(runs), console=Console(file=buffer, width=200, force_terminal=False)) as observer:
            runner.observer = observer
            runner.train(runs, suite.eval.model_dump(mode="json"))
    finally:
        torch.set_num_threads(before)
    assert "CE, seed 0, cpu float32, 1 CPU thread(s)" in buffer.getvalue()
