"""The suite schema: strict pydantic models, unknown keys refused.

Only shapes, types and ranges live here. Whether a dataset, backbone or loss name exists, and
whether a loss accepts its parameters, is checked against the registries in ``loader.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (AliasChoices, BaseModel, ConfigDict, Field, PrivateAttr, StrictInt, field_validator,
                      model_serializer, model_validator)

from modbench.errors import UserError
from modbench.metrics.names import DEFAULT_METRICS  # names only: no torch import

DEFAULT_EVAL_METRICS = list(DEFAULT_METRICS)
DEFAULT_VAL_METRICS = ["nmi", "f1", "recall@1"]

# Upper bounds (docs/reliability.md, "Bounds"): far above any real setting, low enough that a
# typo (1e12 epochs) is refused at load instead of running forever or failing late.
MAX_EPOCHS = 10_000
MAX_SEED = 2**32 - 1  # numpy, scikit-learn and the split generators take seeds below 2**32
MAX_SEEDS = 1_000  # seeds listed in one suite
MAX_KMEANS_N_INIT = 100
MAX_BATCH_SIZE = 65_536
MAX_SUBSET = 10_000_000
MAX_CLASSES = 1_000_000  # classes listed in dataset.split
# The CPU thread count of a run whose suite sets no train.cpu_threads and whose command gives no
# --threads. One thread: the same numbers on every machine and in every shell (a shared cache
# reuses them), and the fastest choice when several runs or users share the cores.
DEFAULT_CPU_THREADS = 1
MAX_CPU_THREADS = 1024


def _printable_text(value: str | None) -> str | None:
    """Names and labels reach terminals, Markdown, CSV and file names: no control characters
    (escape codes, line breaks, tabs) and no line or paragraph separators. Markup such as
    ``[/]`` or ``<b>`` is allowed here and escaped by each output."""
    if value is not None and not value.isprintable():
        bad = next(c for c in value if not c.isprintable())
        raise ValueError(f"must be printable text on one line; {bad!r} is a control character or line break")
    return value


class Strict(BaseModel):
    # No NaN or infinity anywhere (an infinite learning rate is not a setting, it is a typo).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SplitConfig(Strict):
    """``dataset.split``: the protocol (docs/datasets.md, "Protocols: closed-set and
    class-disjoint"). ``closed``: the test split holds the training classes. ``class-disjoint``:
    the test classes are never trained on; which classes go where is listed (``train_classes``
    and/or ``test_classes``: class names, or integers) or drawn (``seed``, ``train_fraction``,
    defaults 0 and 0.5; modbench.datasets.class_disjoint). Written as a plain string
    (``split: class-disjoint``) it takes the defaults."""

    mode: Literal["closed", "class-disjoint"] = "closed"
    train_classes: list[StrictInt | str] | None = Field(None, min_length=1, max_length=MAX_CLASSES)
    test_classes: list[StrictInt | str] | None = Field(None, min_length=1, max_length=MAX_CLASSES)
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="draws the training classes (no list given)")
    train_fraction: float | None = Field(None, gt=0, lt=1, description="share of the classes drawn for training")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        return {"mode": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _consistent(self):
        listed = [k for k in ("train_classes", "test_classes") if getattr(self, k) is not None]
        drawn = [k for k in ("seed", "train_fraction") if getattr(self, k) is not None]
        if self.mode == "closed" and (listed or drawn):
            raise ValueError(f"{(listed + drawn)[0]} applies to mode: class-disjoint only (mode is closed)")
        if listed and drawn:
            raise ValueError(f"{drawn[0]} draws the classes; with {listed[0]} listed, remove it")
        for key in listed:
            values = [str(v) for v in getattr(self, key)]
            twice = next((v for v in values if values.count(v) > 1), None)
            if twice is not None:
                raise ValueError(f"{key} lists class {twice!r} twice")
            bad = next((v for v in values if not v.isprintable() or not v), None)
            if bad is not None:
                raise ValueError(f"{key}: class names must be printable text on one line, got {bad!r}")
        if len(listed) == 2:
            both = set(map(str, self.train_classes)) & set(map(str, self.test_classes))
            if both:
                raise ValueError(f"class {sorted(both)[0]!r} is in both train_classes and test_classes; "
                                 "the protocol is class-disjoint")
        return self

    @model_serializer(mode="wrap")
    def _canonical(self, handler):
        # The run key sees the defaults spelled out, so that "split: class-disjoint" and
        # "{mode: class-disjoint, seed: 0, train_fraction: 0.5}" are the same run.
        data = {k: v for k, v in handler(self).items() if v is not None}
        if data.get("mode") == "class-disjoint" and "train_classes" not in data and "test_classes" not in data:
            data.setdefault("seed", 0)
            data.setdefault("train_fraction", 0.5)
        return data


class DatasetConfig(Strict):
    name: str
    subset: int | None = Field(None, ge=1, le=MAX_SUBSET,
                               description="at most N training images per class (validation in proportion; never the test split)")
    # A smoke run that must shrink the test set says so: at most N test images per class (seeded,
    # stratified). Every output names it as a deviation; the protocol evaluates the whole test split.
    test_subset: int | None = Field(None, ge=2, le=MAX_SUBSET,
                                    description="at most N test images per class (smoke runs only)")
    # closed: the share of each class's training images held out; class-disjoint: the share of
    # the training-side classes held out as validation classes (at least 2).
    val_fraction: float = Field(0.1, gt=0, lt=1)
    split_seed: int = Field(0, ge=0, le=MAX_SEED)
    labels: Literal["fine", "coarse"] | None = None
    # Your own data (datasets folder, npz): where it is (relative to the suite file, or absolute;
    # made absolute when the suite is loaded) and the size images are resized to.
    path: str | None = Field(None, min_length=1, description="folder or .npz file of a user dataset")
    image_size: int | None = Field(None, ge=4, le=1024, description="resize images to this square size")
    # Set by modbench when the suite is loaded (any value written in the file is replaced): a
    # digest of the data files' names, sizes and modification times, so that a run's key changes
    # when its files do (modbench.datasets.paths.files_digest).
    files_digest: str | None = None
    # fixed: one training subset for every seed (drawn from split_seed); per-seed: each training
    # seed draws its own training subset, so that the seed spread includes the choice of
    # training images (validation and test images stay the same). Needs subset.
    subset_seed: Literal["fixed", "per-seed"] = "fixed"
    # The protocol: closed-set (the default, left out of the dump so that closed-set run keys stay
    # as they were) or class-disjoint (SplitConfig).
    split: SplitConfig = Field(default_factory=SplitConfig)

    @model_serializer(mode="wrap")
    def _omit_unset_source(self, handler):
        # Without path/image_size/test_subset the dump is what it was before they existed, so that the run
        # keys (hashes of the dump) of every suite that does not use them stay the same.
        data = handler(self)
        for key in ("path", "image_size", "files_digest", "test_subset"):
            if data.get(key) is None:
                data.pop(key, None)
        if data.get("subset_seed") == "fixed":
            data.pop("subset_seed")
        if (data.get("split") or {}).get("mode", "closed") == "closed":
            data.pop("split", None)
        return data

    @model_validator(mode="after")
    def _per_seed_needs_subset(self):
        if self.subset_seed == "per-seed" and self.subset is None:
            raise ValueError("subset_seed: per-seed draws a training subset per seed: it needs subset "
                             "(images per class)")
        return self


BACKBONE_DEFAULTS_OMITTED = {"weights": None, "weights_digest": None, "freeze_bn": False}


class BackboneConfig(Strict):
    name: str
    embedding_dim: int = Field(128, ge=2, le=65536)
    # torchvision's ImageNet weights from torch's hub cache (modbench/backbones/_pretrained.py).
    pretrained: bool = False
    # A local weights file (a state dict: torchvision's .pth format, or .safetensors), relative
    # to the suite file or absolute; made absolute when the suite is loaded. ``pretrained_file``
    # (timm's name for it) is read as the same key.
    weights: str | None = Field(None, min_length=1, validation_alias=AliasChoices("weights", "pretrained_file"),
                                description="local state-dict file of pretrained weights")
    # Set by modbench when the suite is loaded (any value written in the file is replaced): the
    # sha256 of the weights file's bytes, so that other weights are another run
    # (modbench.backbones.weights_file).
    weights_digest: str | None = None
    # BatchNorm layers of the backbone kept in eval mode (running statistics frozen) and their
    # affine parameters not trained, as in the metric-learning recipes for pretrained backbones.
    freeze_bn: bool = False

    @model_validator(mode="before")
    @classmethod
    def _one_weights_key(cls, data):
        if isinstance(data, dict) and "weights" in data and "pretrained_file" in data:
            raise ValueError("give the weights file once: weights or pretrained_file (the same key)")
        return data

    @model_validator(mode="after")
    def _one_source_of_weights(self):
        if self.pretrained and self.weights is not None:
            raise ValueError("pretrained: true reads torchvision's weights from torch's hub cache, weights: "
                             "a file of your own: give one of them")
        return self

    @model_serializer(mode="wrap")
    def _omit_unset(self, handler):
        # Without weights and freeze_bn the dump is what it was before they existed, so that the
        # run keys of every suite that does not use them stay the same.
        data = handler(self)
        for key, default in BACKBONE_DEFAULTS_OMITTED.items():
            if key in data and data[key] == default:
                del data[key]
        return data


# Training settings left out of a dumped configuration while at these defaults.
TRAIN_DEFAULTS_OMITTED = {"scheduler": "constant", "warmup_epochs": 0.0, "step_size": None, "gamma": None,
                          "weight_decay_on": "backbone", "precision": "float32"}


class TrainConfig(Strict):
    epochs: int = Field(ge=1, le=MAX_EPOCHS)
    batch_size: int = Field(ge=2, le=MAX_BATCH_SIZE)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(gt=0)
    weight_decay: float = Field(0.0, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = Field(0.9, ge=0, lt=1)
    sampler: Literal["random", "m-per-class"] = "random"
    m: int = Field(4, ge=2, le=MAX_BATCH_SIZE, description="samples per class in a batch, with m-per-class")
    select: Literal["last", "best-val"] = "last"
    compile: bool = False
    # CPU threads of every run (part of the run's key): fixes the numbers on any machine, in
    # any shell and with any --jobs. Never read from OMP_NUM_THREADS or the core count: the
    # default is DEFAULT_CPU_THREADS, and `--threads N` overrides it like `--epochs` does.
    cpu_threads: int = Field(DEFAULT_CPU_THREADS, ge=1, le=MAX_CPU_THREADS)
    # Learning-rate schedule (modbench/engine/schedule.py, docs/tuning.md "Learning-rate
    # schedules"): torch's schedulers, stepped after every optimizer step, the same factor for
    # every parameter group. Epoch counts are turned into steps with the run's steps per epoch.
    scheduler: Literal["constant", "cosine", "step", "onecycle"] = "constant"
    warmup_epochs: float = Field(0.0, ge=0, le=MAX_EPOCHS, description="linear warm-up (onecycle: the rising phase)")
    step_size: int | None = Field(None, ge=1, le=MAX_EPOCHS, description="epochs between two decays (scheduler: step)")
    gamma: float | None = Field(None, gt=0, le=1, description="decay factor of scheduler: step (default 0.1)")
    # Which parameters train.weight_decay decays: the network only (the loss's own parameters,
    # classifier, proxies, beta, take their loss's weight_decay, 0 by default), or everything.
    weight_decay_on: Literal["backbone", "all"] = "backbone"
    # The network's forward and backward in training: float32, or under bfloat16 autocast (the
    # losses still compute in float32). bf16 is another run (its key differs); on the CPU it needs
    # bf16 support (AVX-512 BF16 / AMX), checked before training (docs/benchmarks.md). On CUDA
    # the network always runs under bf16 autocast.
    precision: Literal["float32", "bf16"] = "float32"

    @model_validator(mode="after")
    def _schedule_settings(self):
        if self.scheduler != "step" and (self.step_size is not None or self.gamma is not None):
            given = "step_size" if self.step_size is not None else "gamma"
            raise ValueError(f"{given} applies to scheduler: step only (scheduler is {self.scheduler})")
        if self.scheduler == "step" and self.step_size is None:
            raise ValueError("scheduler: step needs step_size (epochs between two decays of the learning rate)")
        if self.scheduler == "onecycle" and self.warmup_epochs <= 0:
            raise ValueError("scheduler: onecycle rises over warmup_epochs: set warmup_epochs > 0 "
                             "(torch's default is 30% of training: 0.3 x epochs)")
        if self.scheduler != "constant" and self.warmup_epochs >= self.epochs:
            raise ValueError(f"warmup_epochs ({self.warmup_epochs:g}) must be below epochs ({self.epochs}) "
                             f"with scheduler: {self.scheduler}")
        if self.warmup_epochs > self.epochs:
            raise ValueError(f"warmup_epochs ({self.warmup_epochs:g}) must be at most epochs ({self.epochs})")
        return self

    @model_serializer(mode="wrap")
    def _omit_defaults(self, handler):
        # Settings at their default are left out of the dump (the run's resolved configuration),
        # so that a suite that does not use them keeps its configuration as it was before they
        # existed.
        data = handler(self)
        for key, default in TRAIN_DEFAULTS_OMITTED.items():
            if key in data and data[key] == default:
                del data[key]
        return data

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not all(0 <= b < 1 for b in value):
            raise ValueError("each of betas must be in [0, 1)")
        return value


class EvalConfig(Strict):
    metrics: list[str] = Field(default_factory=lambda: list(DEFAULT_EVAL_METRICS))
    val_metrics: list[str] = Field(default_factory=lambda: list(DEFAULT_VAL_METRICS))
    kmeans_seed: int = Field(0, ge=0, le=MAX_SEED)
    # k-means initialisations for NMI and F1 (pairs), the lowest inertia kept: one
    # initialisation made F1 (pairs) swing by 0.1 between k-means seeds on one model.
    kmeans_n_init: int = Field(10, ge=1, le=MAX_KMEANS_N_INIT)


# The metrics a verdict can be read on: those with one number per test query (per-query records).
VERDICT_METRIC_CHOICES = "map@r, p@1 or recall@K"
DEFAULT_VERDICT_METRIC = "map@r"


class VerdictConfig(Strict):
    """How the suite's primary contrasts are decided (docs/reporting.md, "Verdict settings"):
    each loss against ``baseline`` on ``metric``, better / worse at family-wise level ``alpha``,
    equivalent within ``margin``. Not part of any run's key: it changes the reading, not a number."""

    # Default MAP@R, as in Musgrave et al. 2020 ("A Metric Learning Reality Check"); a per-query
    # metric the suite measures (checked in references.py, naming verdict.metric).
    metric: str = DEFAULT_VERDICT_METRIC
    margin: float = Field(0.01, gt=0, lt=1, description="equivalence margin delta, in units of the metric")
    # A loss label or name of the suite; None: the command's --baseline, else the first loss.
    baseline: str | None = Field(None, min_length=1, max_length=80)
    alpha: float = Field(0.05, gt=0, lt=0.5, description="family-wise error rate over the primary contrasts")

    @field_validator("metric")
    @classmethod
    def _metric_spelled_once(cls, value: str) -> str:
        # "MAP@R", "recall@08" -> "map@r", "recall@8"; an unknown name stays for references.py.
        from modbench.metrics.names import parse_metric_names

        try:
            (name,) = parse_metric_names([value])
        except (UserError, ValueError):
            return value
        return name

    @field_validator("baseline")
    @classmethod
    def _baseline_printable(cls, value: str | None) -> str | None:
        return _printable_text(value)


class SlurmConfig(Strict):
    """Resources of each SLURM job with ``--launcher slurm`` (flags override these). Not part of
    any run's key: where a run trains does not change what it is."""

    partition: str | None = Field(None, min_length=1)
    account: str | None = Field(None, min_length=1)
    qos: str | None = Field(None, min_length=1)
    constraint: str | None = Field(None, min_length=1)
    gpus_per_job: int | None = Field(None, ge=0, le=64)
    cpus_per_job: int | None = Field(None, ge=1, le=1024)
    mem_gb: float | None = Field(None, gt=0)
    time_min: int | None = Field(None, ge=1, description="wall-clock limit of each job, minutes")


class LossEntry(Strict):
    name: str
    label: str | None = Field(None, min_length=1, max_length=80)
    # A list value is a sweep: every combination of the listed values becomes one run.
    params: dict[str, Any] = Field(default_factory=dict)
    # This loss's learning rate instead of train.lr (written by `modbench tune`, which tunes the
    # learning rate per loss); part of the run's key only when given.
    lr: float | None = Field(None, gt=0)
    # This loss's optimizer instead of train.optimizer (e.g. an AdamW control of one loss in a
    # suite trained with Adam); the suite's betas, momentum and weight decay; part of the run's
    # key only when given.
    optimizer: Literal["adam", "adamw", "sgd"] | None = None

    @field_validator("label")
    @classmethod
    def _label_printable(cls, value: str | None) -> str | None:
        return _printable_text(value)


class TuneRange(Strict):
    """One searched parameter of ``tune:`` (docs/tuning.md): uniform on [low, high], or
    log-uniform with ``log: true``; integer parameters draw integers."""

    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self):
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0 (got {self.low})")
        return self


class TunedInfo(Strict):
    """What ``modbench tune`` records in the tuned suite it writes: where the parameters come
    from. Not part of any run's key (the runs are ordinary runs with these parameters)."""

    source: str = Field(min_length=1, description="the suite that was tuned")
    trials: int = Field(ge=1, description="trials per loss")
    metric: str = Field(min_length=1, description="the validation metric maximised")
    split: Literal["validation"] = "validation"
    storage: str = ""
    pruner: str = ""
    studies: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Every seed tuning trained on (the trials' and the re-training's): the suite's seeds are
    # none of them.
    tuning_seeds: list[int] = Field(default_factory=list)
    # sha256 of the file's data without this key, written by `tune` (tune/tuned_suite.py): the
    # claims above are shown only when it matches.
    checksum: str = ""


class Suite(Strict):
    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    dataset: DatasetConfig
    backbone: BackboneConfig
    train: TrainConfig
    eval: EvalConfig = Field(default_factory=EvalConfig)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1, max_length=MAX_SEEDS)
    losses: list[LossEntry] = Field(min_length=1)
    slurm: SlurmConfig | None = None
    # Search spaces of `modbench tune`, {loss label or name (or "*"): {param: range | "fixed"}};
    # labels and parameters are checked against the losses in modbench.suite.tune_section.
    # (values: a TuneRange mapping or "fixed", checked there so each problem names its key).
    tune: dict[str, dict[str, Any]] | None = None
    tuned: TunedInfo | None = None
    verdict: VerdictConfig = Field(default_factory=VerdictConfig)

    @model_validator(mode="before")
    @classmethod
    def _measure_the_default_verdict_metric(cls, data: Any) -> Any:
        # The default verdict metric (MAP@R) is measured even where eval.metrics lists others;
        # a metric written in verdict: must be listed (references.py says so, naming the key).
        if not isinstance(data, dict):
            return data
        verdict, evaluation = data.get("verdict"), data.get("eval")
        written = isinstance(verdict, dict) and "metric" in verdict
        if written or not isinstance(evaluation, dict) or not isinstance(evaluation.get("metrics"), list):
            return data
        listed = [m.strip().lower() for m in evaluation["metrics"] if isinstance(m, str)]
        if DEFAULT_VERDICT_METRIC in listed:
            return data
        return {**data, "eval": {**evaluation, "metrics": [*evaluation["metrics"], DEFAULT_VERDICT_METRIC]}}

    @field_validator("name")
    @classmethod
    def _name_printable(cls, value: str) -> str:
        return _printable_text(value)

    @field_validator("seeds")
    @classmethod
    def _seeds_unique(cls, value: list[int]) -> list[int]:
        if any(s < 0 or s > MAX_SEED for s in value):
            raise ValueError(f"seeds must be in 0..{MAX_SEED}")
        if len(set(value)) != len(value):
            raise ValueError("seeds must be distinct")
        return value

    # Set by ``load_suite`` (never read from the file, written nowhere else): where the suite file
    # is, for names and paths relative to it; the source named in messages; the plugin references
    # of its losses and backbone, resolved against that folder once; its loss settings, expanded once.
    _source: str | None = PrivateAttr(None)
    _source_dir: Path | None = PrivateAttr(None)
    _references: dict | None = PrivateAttr(None)
    _loss_settings: tuple | None = PrivateAttr(None)

    @property
    def source(self) -> str | None:
        return self._source

    @property
    def source_dir(self) -> Path | None:
        """The folder of the suite file (None for a suite not read from a file)."""
        return self._source_dir

    @property
    def references(self) -> dict:
        """``{name: plugins.PluginRef}`` of the suite's plugin losses and backbone (``./file.py:Class``,
        ``module:Class``), resolved once by ``load_suite``; empty for a suite not read by it, whose
        relative files are relative to the current directory."""
        return self._references or {}

    @property
    def loss_settings(self) -> tuple | None:
        """``runs.LossSetting`` of every distinct loss setting, once ``load_suite`` expanded them."""
        return self._loss_settings
