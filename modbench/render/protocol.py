"""A suite's protocol as Markdown: dataset, split sizes, backbone, training settings, seeds,
losses, evaluation and metric definitions, software versions and device."""

from __future__ import annotations

import textwrap
from pathlib import PurePath

from modbench.render.markdown import escape
from modbench.render.names import backbone_name, dataset_name, metric_title
from modbench.results.protocol import Protocol
from modbench.results.split_protocol import class_counts

METRICS_DOC = "docs/metrics.md"

METRIC_DEFINITIONS = {
    "nmi": "normalised mutual information (arithmetic averaging) between the labels and a k-means "
    "partition of the test embeddings (k = number of test classes, k-means++, fixed seed)",
    "f1": "pairwise F1 of the same k-means partition: precision and recall over pairs of samples "
    "(same cluster vs same label)",
    "recall@k": "share of test queries with at least one sample of their label among their k nearest "
    "neighbours (the query itself excluded; exact search)",
    "macro_f1": "macro-averaged F1 over classes of the leave-one-out 1-nearest-neighbour labels",
    "map@r": "MAP@R (Musgrave et al. 2020), R = number of other samples of the query's label",
    "p@1": "precision at 1: share of queries whose nearest neighbour has the query's label",
}

CLOSED_SET_NOTE = (
    "Retrieval here is closed-set: the test split holds the same classes as the training split "
    "(the dataset's official train/test division, with every class in both), unlike the "
    "class-disjoint splits of most metric-learning benchmarks (CUB-200, Cars196, SOP), where the "
    "test classes are never seen in training; so these numbers are not comparable with those."
)


def _join(values, fmt=str) -> str:
    values = list(values)
    if not values:
        return "—"
    text = " / ".join(fmt(v) for v in values)
    return text + " (differs between runs)" if len(values) > 1 else text


def _number(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _params(params: dict) -> str:
    return ", ".join(f"{k}={_number(v)}" for k, v in params.items()) or "—"


def _dataset(p: Protocol) -> str:
    d = p.dataset
    name = d.get("name", "?")
    text = f"{dataset_name(name)} (`{name}`"
    if d.get("labels"):
        text += f", labels: {d['labels']}"
    text += ")"
    if "val_fraction" in d and p.class_disjoint:
        text += ("; class-disjoint: training classes from the official training split, test classes "
                 "from the official test split, validation classes carved from the training side "
                 f"(val_fraction {_number(d['val_fraction'])}, split seed {d.get('split_seed', 0)})")
    elif "val_fraction" in d:
        text += (
            f"; the official training split divided into train and validation "
            f"(class-stratified, val_fraction {_number(d['val_fraction'])}, split seed {d.get('split_seed', 0)}); "
            + ("the official test split for every reported number" if d.get("test_subset")
               else "the whole official test split for every reported number")
        )
    if d.get("subset"):
        text += f"; subset: at most {d['subset']} training images per class (validation in proportion)"
    if d.get("test_subset"):
        text += (f"; test subset: at most {d['test_subset']} test images per class (a smoke run: "
                 "not the whole test split)")
    return text


def _protocol(p: Protocol) -> str:
    """``closed-set ...`` or the class-disjoint sides: counts, names, how they were chosen."""
    if not p.class_disjoint:
        return "closed-set: the test split holds the training classes"

    def one(sizes: dict) -> str:
        info = sizes.get("info") if isinstance(sizes.get("info"), dict) else {}
        counts = class_counts({"data": sizes})
        sides = info.get("classes_by_side") or {}
        if not sides and isinstance(info.get("class_names"), dict):  # the retrieval loaders' record
            sides = {side: {"names": names} for side, names in info["class_names"].items()}
        words = {"train": "training classes", "val": "validation classes",
                 "test": "test classes, never seen in training"}
        parts = []
        for side in ("train", "val", "test"):
            names = (sides.get(side) or {}).get("names") or []
            shown = ", ".join(str(n) for n in names[:12]) + (", ..." if len(names) > 12 else "")
            count = len(names) if names else (counts or {}).get(side, "?")
            parts.append(f"{count} {words[side]}" + (f" ({shown})" if names else ""))
        rule = str(info.get("split_rule") or info.get("val_rule") or "").removeprefix("class-disjoint: ")
        return "class-disjoint: " + "; ".join(parts) + (f"; {rule}" if rule else "")

    return _join(p.sizes, one) if p.sizes else "class-disjoint"


def _sizes(p: Protocol) -> str:
    """``train 1293, validation 144, test 360 images`` (the counts of result.json's ``data``;
    its ``info`` object is described in words, never printed as a dict)."""

    def one(sizes: dict) -> str:
        counts = {k: v for k, v in sizes.items() if isinstance(v, int) and not isinstance(v, bool)}
        order = [k for k in ("train", "val", "test") if k in counts] + [k for k in counts if k not in ("train", "val", "test")]
        names = {"val": "validation"}
        info = sizes.get("info") if isinstance(sizes.get("info"), dict) else {}
        whole = info.get("test_total")
        cut = isinstance(whole, int) and counts.get("test") not in (None, whole)
        shown = {k: (f"{counts[k]} of {whole}" if k == "test" and cut else str(counts[k])) for k in counts}
        text = ", ".join(f"{names.get(k, k)} {shown[k]}" for k in order) + (" images" if counts else "")
        if isinstance(whole, int) and not cut and "test" in counts:
            text += " (the whole test split)"
        if info.get("source"):
            text += f" (read with {info['source']})"
        if info.get("fixture"):
            text += "; fixture data: synthetic files, not the real dataset"
        return text or "—"

    return _join(p.sizes, one)


def _backbone(p: Protocol) -> str:
    b = p.backbone
    name = b.get("name", "?")
    text = f"{backbone_name(name)} (`{name}`), embedding dimension {b.get('embedding_dim', '?')}"
    if b.get("weights"):
        digest = b.get("weights_digest") or "?"
        text += (f", pretrained weights from the file {escape(PurePath(b['weights']).name)} (sha256 {digest[:12]}), "
                 "inputs normalised as the weights expect")
    elif b.get("pretrained"):
        digest = f", sha256 {b['weights_digest'][:12]}" if b.get("weights_digest") else ""
        text += f", pretrained weights (torchvision's ImageNet weights{digest}), inputs normalised as the weights expect"
    else:
        text += ", trained from scratch"
    if b.get("freeze_bn"):
        text += ", BatchNorm frozen (running statistics and affine parameters not trained)"
    return text


def _training(p: Protocol) -> str:
    t = p.train
    if not t:
        return "—"
    parts = [
        ("optimizer per loss (see Losses)" if p.optimizer_per_loss else f"{t.get('optimizer', '?')}") + ", "
        + ("lr per loss (see Losses)" if p.lr_per_loss else f"lr {_number(t.get('lr'))}")
        + f", weight decay {_number(t.get('weight_decay'))}"
        + (" on every parameter (weight_decay_on: all)" if t.get("weight_decay_on") == "all"
           else " on the network only (not the loss's own parameters)"),
    ]
    if t.get("optimizer") in ("adam", "adamw") and t.get("betas"):
        parts.append(f"betas ({', '.join(_number(b) for b in t['betas'])})")
    if t.get("optimizer") == "sgd":
        parts.append(f"momentum {_number(t.get('momentum'))}")
    parts.append(_schedule(t))
    parts.append(f"batch size {t.get('batch_size')}")
    parts.append(f"{t.get('epochs')} epoch{'' if t.get('epochs') == 1 else 's'}")
    sampler = t.get("sampler", "random")
    parts.append(f"m-per-class sampler (m={t.get('m')})" if sampler == "m-per-class" else f"{sampler} sampler")
    parts.append(
        "reported checkpoint: best validation Recall@1" if t.get("select") == "best-val" else "reported checkpoint: last epoch"
    )
    if t.get("compile"):
        parts.append("torch.compile")
    return ", ".join(parts)


def _schedule(t: dict) -> str:
    """``constant learning rate``, or e.g. ``cosine schedule after 2 warm-up epochs (per step)``."""
    kind = t.get("scheduler", "constant")
    warmup = t.get("warmup_epochs") or 0
    text = "constant learning rate" if kind == "constant" else f"{kind} schedule"
    if kind == "step":
        text += f" (x{_number(t.get('gamma') if t.get('gamma') is not None else 0.1)} every {t.get('step_size')} epochs)"
    if warmup:
        text += f"{' after' if kind != 'onecycle' else ','} {_number(warmup)} warm-up epoch{'' if warmup == 1 else 's'}"
    return text + (" (stepped per batch)" if kind != "constant" or warmup else "")


def _seeds(p: Protocol) -> str:
    if not p.seeds:
        return "none finished"
    listed = max((loss.listed for loss in p.losses), default=0)
    finished = [len(loss.seeds) for loss in p.losses]
    text = ", ".join(str(s) for s in p.seeds)
    if finished and all(n == listed for n in finished):
        return f"{text} ({listed} per loss setting)"
    return f"{text} (finished per loss setting: see Losses)"


def _evaluation(p: Protocol) -> str:
    parts = [
        _join(
            p.eval,
            lambda e: f"metrics {', '.join(e.get('metrics') or [])}; k-means seed {e.get('kmeans_seed')}, n_init {e.get('kmeans_n_init')}",
        )
    ]
    labels = {
        "distance": "distance", "normalized": "L2-normalised embeddings", "kmeans_implementation": "k-means",
        "kmeans_init": "k-means init", "kmeans_points": "k-means points", "backend": "kNN backend",
        "retrieval": "query/gallery search",
    }
    for key, values in p.metric_info.items():
        parts.append(f"{labels.get(key, key)}: {_join(values, lambda v: str(v).lower() if isinstance(v, bool) else str(v))}")
    return "; ".join(parts)


def _device(p: Protocol) -> str:
    """``cpu, precision float32, 1 CPU thread`` per distinct run identity (else the device)."""
    if not p.identities:
        return _join(p.devices)

    def one(identity: dict) -> str:
        parts = [str(identity.get("device", "?"))]
        if identity.get("precision"):
            parts.append(f"precision {identity['precision']}")
        if identity.get("cpu_threads") is not None:
            n = identity["cpu_threads"]
            parts.append(f"{n} CPU thread{'' if n == 1 else 's'}")
        parts += [f"{k} {v}" for k, v in identity.items() if k not in ("device", "precision", "cpu_threads")]
        return ", ".join(parts)

    return _join(p.identities, one)


def _checkpoints(p: Protocol) -> str:
    return _join(p.checkpoints, lambda c: f"{c.get('select')} (epoch {c.get('epoch')})")


WIDTH = 80


def _wrap(text: str, indent: str = "") -> str:
    """``text`` wrapped at spaces to ``WIDTH`` columns (never inside a word)."""
    return textwrap.fill(text, WIDTH, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)


def _item(text: str) -> str:
    """A Markdown list item, its continuation lines indented."""
    return _wrap(f"- {text}", indent="  ")


def protocol_markdown(p: Protocol, heading: str = "###", metrics_doc: str = METRICS_DOC) -> str:
    """The protocol section of one suite."""
    settings = [
        ("Dataset", _dataset(p)),
        ("Protocol", _protocol(p)),
        ("Split sizes", _sizes(p)),
        ("Backbone", _backbone(p)),
        ("Training", _training(p)),
        ("Checkpoint evaluated", _checkpoints(p)),
        ("Seeds", _seeds(p)),
        ("Evaluation", _evaluation(p)),
        ("Device", _device(p) + (f"; training time {p.train_seconds:.1f} s over {p.n_runs} runs" if p.n_runs else "")),
        ("Software", ", ".join(f"{k} {_join(v)}" for k, v in p.versions.items()) or "—"),
        ("Results dated", " to ".join(dict.fromkeys(p.dates)) if p.dates else "—"),
    ]
    parts = [f"{heading} Protocol — {escape(p.suite)}"]
    if p.description:
        parts.append(_wrap(escape(p.description.strip())))
    # Lists rather than tables, wrapped at 80 columns: a table row cannot wrap, and these values
    # are sentences (the whole section reads in an 80-column terminal and renders the same).
    parts.append("\n".join(_item(f"**{k}**: {escape(v)}") for k, v in settings))
    losses = []
    for loss in p.losses:
        text = f"**{escape(loss.label)}**: `{loss.name}`; parameters {escape(_params(loss.params))}"
        if p.optimizer_per_loss:
            text += f"; optimizer {escape(str(loss.optimizer))}"
        if p.lr_per_loss:
            text += f"; learning rate {_number(loss.lr)}"
        losses.append(_item(text + f"; seeds done {len(loss.seeds)}/{loss.listed}"))
    parts.append("Losses:\n\n" + "\n".join(losses))
    metrics = []
    for e in p.eval:
        metrics += [m for m in e.get("metrics") or [] if m not in metrics]
    definitions = []
    seen_recall = False
    for m in metrics:
        key = "recall@k" if m.startswith("recall@") else m
        if key == "recall@k":
            if seen_recall:
                continue
            seen_recall = True
            title = "Recall@k"
        else:
            title = metric_title(m)
        if key in METRIC_DEFINITIONS:
            definitions.append(_item(f"**{title}**: {METRIC_DEFINITIONS[key]}."))
    if definitions:
        parts.append(_wrap(
            "Metrics, on the L2-normalised test embeddings with Euclidean distance "
            f"(exact definitions: `{metrics_doc}` in the modbench sources):") + "\n\n" + "\n".join(definitions)
        )
    if p.closed_set:
        parts.append(_wrap(CLOSED_SET_NOTE))
    return "\n\n".join(parts) + "\n"
