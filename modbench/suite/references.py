"""The names a suite refers to, checked against the registries (no torch: registries are lazy).

``loss_params_model`` is the one place where the suite layer asks the loss registry for a loss;
everything else (expansion, the loader) goes through it.
"""

from __future__ import annotations

from modbench.backbones import BACKBONES
from modbench.datasets import DATASETS
from modbench.errors import UserError, unknown_name_message
from modbench.metrics.names import parse_metric_names, recall_k
from modbench.plugins import backbone_problem
from modbench.suite.errors import Problems
from modbench.suite.schema import VERDICT_METRIC_CHOICES, Suite

# Imports inside functions here: the loss registry (modbench.losses) and its parameter models are
# imported when a suite's losses are checked; tests replace ``resolve_loss`` at its source.

DATASETS_WITH_LABEL_SETS = {"cifar100"}  # fine | coarse
MAX_RECALL_K = 10_000  # recall@k beyond this is a typo, not a retrieval setting (docs/reliability.md)


def loss_params_model(name: str, references=None):
    """The pydantic parameter model of loss ``name`` (UnknownNameError when there is none).

    Built-in losses come from ``modbench.losses.params`` without importing torch (``report``
    and ``list`` stay fast); any other name (``pml:``, plugins) through ``resolve_loss``, given the
    suite's plugin references resolved at load (``Suite.references``).
    """
    try:
        from modbench.losses.params import PARAMS
    except ImportError:  # the registry may keep parameter models beside each loss instead
        PARAMS = {}
    if name in PARAMS:
        return PARAMS[name]
    from modbench.losses import resolve_loss

    return resolve_loss(name, references).params


def name_problems(data: dict, problems: Problems) -> None:
    """When the schema fails elsewhere (a required key missing), still check the dataset and
    backbone names of the raw file, so that one attempt lists every problem (a built-in name's
    typo; a user's backbone file is checked once the file parses)."""
    reported = {p for p, _ in problems.items}
    dataset = data.get("dataset") if isinstance(data, dict) else None
    name = dataset.get("name") if isinstance(dataset, dict) else None
    if isinstance(name, str) and "dataset.name" not in reported and name not in DATASETS:
        problems.add("dataset.name", unknown_name_message("dataset", name, DATASETS.names()))
    backbone = data.get("backbone") if isinstance(data, dict) else None
    name = backbone.get("name") if isinstance(backbone, dict) else None
    if isinstance(name, str) and "backbone.name" not in reported and not BACKBONES.knows(name):
        problems.add("backbone.name", unknown_name_message("backbone", name, BACKBONES.names()))


def reference_problems(suite: Suite, problems: Problems) -> None:
    """Add a problem for each dataset, backbone and metric name no registry knows."""
    if suite.dataset.name not in DATASETS:
        problems.add("dataset.name", unknown_name_message("dataset", suite.dataset.name, DATASETS.names()))
    if not BACKBONES.knows(suite.backbone.name):
        problems.add("backbone.name", unknown_name_message("backbone", suite.backbone.name, BACKBONES.names()))
    else:  # a user's ./file.py:Class or module:Class, as resolved at load
        problem = backbone_problem(suite.backbone.name, suite.references)
        if problem:
            problems.add("backbone.name", problem)
    if suite.dataset.labels is not None and suite.dataset.name not in DATASETS_WITH_LABEL_SETS:
        problems.add(
            "dataset.labels",
            f"dataset '{suite.dataset.name}' has one label set; 'labels' applies to "
            f"{', '.join(sorted(DATASETS_WITH_LABEL_SETS))} only (remove the key)",
        )
    measured = None
    for key in ("metrics", "val_metrics"):
        try:
            names = parse_metric_names(getattr(suite.eval, key))
        except UserError as exc:
            problems.add(f"eval.{key}", str(exc))
            continue
        if key == "metrics":
            measured = names
        for name in names:
            k = recall_k(name)
            if k is not None and k > MAX_RECALL_K:
                problems.add(f"eval.{key}", f"{name}: k is at most {MAX_RECALL_K}")
    verdict_metric_problems(suite, measured, problems)


def verdict_metric_problems(suite: Suite, measured: list[str] | None, problems: Problems) -> None:
    """``verdict.metric`` must be a per-query metric (MAP@R, P@1, Recall@K) that the suite
    measures (``eval.metrics``; ``measured`` None: those did not parse, reported already)."""
    written = suite.verdict.metric
    try:
        (metric,) = parse_metric_names([written])
    except (UserError, ValueError):
        problems.add("verdict.metric", f"unknown metric {written!r}; choose {VERDICT_METRIC_CHOICES}")
        return
    if metric not in ("map@r", "p@1") and recall_k(metric) is None:
        problems.add("verdict.metric", f"{metric} has no value per test query; choose {VERDICT_METRIC_CHOICES}")
    elif measured is not None and metric not in measured:
        problems.add("verdict.metric", f"{metric} is not measured by this suite; add it to eval.metrics "
                     f"(now {', '.join(measured)})")


def verdict_baseline_problems(suite: Suite, settings, problems: Problems) -> None:
    """``verdict.baseline`` must name one loss setting of the suite: a label, or a loss name
    that one setting alone has (the rule of ``--baseline``, results/baseline.py)."""
    wanted = suite.verdict.baseline
    if wanted is None:
        return
    labels = list(dict.fromkeys(s.label for s in settings))
    if wanted in labels:
        return
    by_name = list(dict.fromkeys(s.label for s in settings if s.name == wanted))
    if len(by_name) > 1:
        problems.add("verdict.baseline", f"{len(by_name)} loss settings are '{wanted}'; give one label instead "
                     f"(choices: {', '.join(by_name)})")
    elif not by_name:
        known = list(dict.fromkeys([*labels, *(s.name for s in settings)]))
        problems.add("verdict.baseline", unknown_name_message("loss or label", wanted, known))
