#!/usr/bin/env python3
"""Regenerate modbench's published findings (docs/findings.md and docs/findings/*.json).

Run it through ``scripts/findings.sh`` (which pins one CPU thread). From a clean cache it

1. trains each suite's runs with ``modbench compare --until-decided`` (seeds added until every
   primary contrast is decided, up to ``--max-seeds``): by default the closed-set suite
   ``fashion-mnist-cpu``, whose results the paper's claims are checked against, and the
   class-disjoint suite ``fashion-mnist-disjoint``, read beside it;
2. optionally tunes every loss of the first suite with ``modbench tune`` (``--trials`` per loss,
   the top settings re-trained on further seeds) and compares the tuned suite the same way;
3. writes every run's key, seed and metrics, with the verdicts of the sequential rule that chose
   the seeds (``modbench report --until-decided --json``), to ``docs/findings/<suite>.json``;
4. checks the paper's claims, each claimed rival as the baseline of a study of its own
   (``claim_study``);
5. writes ``docs/findings.md``: the machine, the commands, wall and CPU time, the conclusions
   worded from the verdict engine's verdicts, the paper's claims beside what was found, and the
   tables exactly as ``modbench report --until-decided --markdown`` prints them.

Nothing on the page is typed by hand: every number comes from a command this script ran. The
script only orchestrates ``modbench`` commands and words their JSON; the statistics are the
verdict engine's (modbench/results/verdict.py).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import resource
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The paper's Fashion-MNIST claims (Wen et al. 2021, section 4.3, Table 2 rows 10-12, Figure 9):
# (what the paper says, the loss modbench compares, the loss it was claimed against, the metrics
# the claim is about). Labels are the suite's.
CLAIMS = [
    ("Section 4.3: the new loss \"outperformed the triplet loss and margin loss\"; Table 2 prints "
     "Recall@1 {paper_new} for it against {paper_triplet} (triplet)",
     "New loss", "Triplet loss", ["recall@1"]),
    ("Same claim against the margin loss; Table 2 prints Recall@1 {paper_new} against "
     "{paper_margin} (margin)",
     "New loss", "Margin loss", ["recall@1"]),
    ("Figure 9: NMI and F1 of the new loss \"are higher than those of the other two loss "
     "functions\" (triplet)", "New loss", "Triplet loss", ["nmi", "f1"]),
    ("Figure 9, against the margin loss", "New loss", "Margin loss", ["nmi", "f1"]),
]
# The sigmoid reading of the paper's equations is judged against the same claims.
READINGS = ["New loss", "New loss (sigmoid reading)"]

# The closed-set suite the claims are checked on, then the class-disjoint one read beside it.
DEFAULT_SUITES = ("fashion-mnist-cpu", "fashion-mnist-disjoint")

STEPS_FILE = "steps.jsonl"  # in the cache: every training step's command and cost, across sessions

METRIC_NAMES = {
    "recall@1": "Recall@1", "recall@2": "Recall@2", "recall@4": "Recall@4",
    "recall@8": "Recall@8", "nmi": "NMI", "f1": "F1 (pairs)", "macro_f1": "macro-F1",
    "map@r": "MAP@R", "p@1": "P@1", "accuracy": "classifier accuracy",
}


@dataclass
class Step:
    """One command the script ran, with its cost. Commands run side by side share a ``group``
    (their wall times overlap: the page counts the group's own, its last ``group_end_s``)."""

    title: str
    argv: list[str]
    wall_s: float = 0.0
    cpu_s: float = 0.0
    returncode: int = 0
    stdout: str = ""
    group: str | None = None
    group_end_s: float = 0.0  # in a group: when it ended, from the group's start
    page: str = "suites"  # the page whose cost table lists it: "suites", "tuned", or "tune" (a tuning)
    name: str | None = None  # in a pool: the job's name (a loss label)


@dataclass
class Stage:
    """A suite whose runs the page reports (the suite as written, or its tuned version)."""

    name: str
    suite_arg: str  # what `--suite` gets: a built-in name or a file
    title: str
    records: list[dict] = field(default_factory=list)
    markdown: str = ""
    # The report's JSON with each claimed rival as the baseline (claims are checked on this stage)
    against: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def suite_file(self) -> Path:
        """The suite's YAML file: the file given, or the built-in suite's (the loader's rule)."""
        from modbench.suite.loader import locate_suite

        return locate_suite(self.suite_arg)

    @property
    def protocol(self) -> str:
        """The protocol its runs were measured under, as the report words it (``closed-set`` or
        ``class-disjoint (train 3, validation 2, test 5 classes)``)."""
        return next((r["protocol"] for r in runs_of(self.records) if r.get("protocol")),
                    "not measured")


def modbench_argv() -> list[str]:
    """The modbench command of the interpreter running this script."""
    exe = Path(sys.executable).with_name("modbench")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "modbench"]


def run_step(title: str, args: list[str], log: Path | None, capture: bool = False,
             page: str = "suites") -> Step:
    """Run ``modbench args`` and measure its wall time and its CPU time (user + system, children)."""
    argv = modbench_argv() + args
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    print(f"[findings] {title}: {shown_command(args)}", file=sys.stderr, flush=True)
    if capture:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, text=True)
        out = proc.stdout
    else:
        assert log is not None
        with log.open("a") as sink:
            sink.write(f"\n$ {shown_command(args)}\n")
            sink.flush()
            proc = subprocess.run(argv, stdout=sink, stderr=subprocess.STDOUT, text=True)
        out = ""
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    step = Step(title, args, wall, cpu, proc.returncode, out, page=page)
    if log is not None:  # training steps are kept, so that a resumed regeneration counts them all
        record(step, log.parent)
    if proc.returncode != 0:
        where = f"; its output is in {log}" if log else ""
        sys.exit(f"error: `{shown_command(args)}` exited with {proc.returncode}{where}")
    return step


def record(step: Step, folder: Path) -> None:
    """Append a training step to the cache's steps file (read back for the cost table)."""
    with (folder / STEPS_FILE).open("a") as out:
        out.write(json.dumps({"title": step.title, "argv": step.argv, "wall_s": step.wall_s,
                              "cpu_s": step.cpu_s, "group": step.group,
                              "group_end_s": step.group_end_s, "page": step.page}) + "\n")


def slug(text: str) -> str:
    """A label as a file-name part: ``Cross-entropy x e^10`` -> ``cross-entropy-x-e-10``."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def run_pool(title: str, jobs: list[tuple[str, list[str]]], log: Path,
             processes: int, page: str = "suites", on_done=None) -> list[Step]:
    """Run ``modbench`` commands, at most ``processes`` at once, each in its own process with
    its own log (``log`` with ``-<name>`` before its suffix); the next starts when one ends. Each
    is recorded when it ends, with its own wall and CPU time (``os.wait4`` gives each child's
    usage, its waited-for workers included) and its end measured from the pool's start (the
    pool's wall time), then passed to ``on_done`` if it succeeded (so that what a command made is
    kept even if the script is stopped before the pool ends). After a failure no further command
    starts; those running finish."""
    group = f"{title} @ {_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='seconds')}"
    start = time.monotonic()
    pending = list(jobs)
    running: dict[int, tuple] = {}
    steps: list[Step] = []
    while pending or running:
        while pending and len(running) < max(1, processes) and \
                not any(s.returncode for s in steps):
            name, args = pending.pop(0)
            print(f"[findings] {title}: {name}: {shown_command(args)}", file=sys.stderr,
                  flush=True)
            sink = log.with_name(f"{log.stem}-{slug(name)}{log.suffix}").open("a")
            sink.write(f"\n$ {shown_command(args)}\n")
            sink.flush()
            proc = subprocess.Popen(modbench_argv() + args, stdout=sink, stderr=subprocess.STDOUT)
            running[proc.pid] = (name, args, proc, sink, time.monotonic())
        if not running:
            break
        for pid in list(running):
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if not done:
                continue
            name, args, proc, sink, began = running.pop(pid)
            proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait
            sink.close()
            now = time.monotonic()
            step = Step(f"{title}: {name}", args, now - began, usage.ru_utime + usage.ru_stime,
                        proc.returncode, "", group, now - start, page, name)
            record(step, log.parent)
            steps.append(step)
            if on_done is not None and step.returncode == 0:
                on_done(step)
        time.sleep(0.2)
    failed = [s for s in steps if s.returncode != 0]
    if failed:
        sys.exit(f"error: `{shown_command(failed[0].argv)}` exited with {failed[0].returncode}; "
                 f"its output is in {log.parent}")
    return steps


def shown_command(args: list[str]) -> str:
    """The command as a reader types it (``modbench ...``), paths relative to the repository."""
    shown = []
    for a in args:
        if Path(a).is_absolute():
            a = shown_path(Path(a))
        shown.append(shlex.quote(a))
    return "modbench " + " ".join(shown)


def cpu_model() -> str:
    """The CPU model as the machine reports it (/proc/cpuinfo, else platform)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_id() -> str:
    """The CPU's family, model and stepping as /proc/cpuinfo numbers them: a virtual machine's
    model name can be as generic as "AMD EPYC" for CPUs of different generations, whose vector
    units (AVX2 or AVX-512) give other floating-point results."""
    fields = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key in ("cpu family", "model", "stepping") and key not in fields:
                fields[key] = value.strip()
            if not line.strip() and fields:
                break
    except OSError:
        pass
    if not fields:
        return "unknown"
    return ", ".join(f"{k} {fields[k]}" for k in ("cpu family", "model", "stepping") if k in fields)


def git_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        # Changes to what computes the numbers; the page and its JSON (docs/) are this script's
        # own output and do not count.
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                "modbench", "suites", "scripts", "pyproject.toml"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return sha[:12] + (" with uncommitted changes" if dirty else "")


def machine_facts() -> dict:
    import torch  # the machine's torch, as the runs used it

    return {
        "cpu_model": cpu_model(),
        "cpu_id": cpu_id(),
        # the instruction set torch's CPU kernels dispatch to (AVX2, AVX512, ...): runs on two
        # levels differ in their last bits, and a training run's numbers drift apart from there
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "logical_cpus": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "os": f"{platform.system()} {platform.release()}",
        "commit": git_commit(),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


# ---------------------------------------------------------------------------------------------
# Reading the report's JSON


def runs_of(records: list[dict]) -> list[dict]:
    return [r for r in records if r.get("seed") is not None]


def aggregates_of(records: list[dict]) -> dict[str, dict]:
    return {r["label"]: r for r in records if r.get("seed") is None}


def fmt(x: float | None, digits: int = 3, sign: bool = False) -> str:
    if x is None:
        return "—"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def verdict_sentence(v: dict) -> str:
    """One sentence for one primary contrast, worded only from the verdict engine's fields."""
    metric = METRIC_NAMES.get(v["metric"], v["metric"])
    ci = v.get("ci")
    # Under --until-decided the interval is the sequential rule's (at the level it tested the
    # contrast at its last look); else the fixed-sample Holm interval (family-wise 95%).
    name = "sequential CI" if v.get("sequential") else "Holm 95% CI"
    ci_text = f"{name} [{fmt(ci[0], sign=True)}, {fmt(ci[1], sign=True)}]" if ci else "no interval"
    base = f"Δ {metric} {fmt(v.get('delta'), sign=True)}, {ci_text}, {v['seeds']} seeds"
    kind = v["verdict"]
    if kind in ("better", "worse"):
        return f"**{kind}** than {v['baseline']} on {metric} ({base})."
    if kind == "equivalent":
        return (f"**equivalent within ±{v['margin']:g}** to {v['baseline']} on {metric} "
                f"({base}).")
    more = v.get("seeds_needed")
    if more:
        need = f"about {more} seeds would decide it at the observed spread"
    else:
        need = v.get("reason") or "the observed spread gives no estimate of the seeds needed"
    return (f"**undecided after {v['seeds']} seeds** against {v['baseline']} on {metric} "
            f"({base}); {need}. Neither a difference nor equivalence is shown.")


def verdict_cell(v: dict | None) -> str:
    """A verdict in a few words for the side-by-side table (the sentence above it says more)."""
    if not v or not v.get("seeds"):
        return "not run"
    kind = v["verdict"]
    delta = f"Δ {fmt(v.get('delta'), sign=True)}, {v['seeds']} seeds"
    if kind in ("better", "worse"):
        return f"**{kind}** ({delta})"
    if kind == "equivalent":
        return f"**equivalent within ±{v['margin']:g}** ({delta})"
    return f"**undecided** ({delta})"


def side_by_side(stages: list[Stage]) -> list[str]:
    """Each loss's verdict under every protocol: one row per loss, one column per suite."""
    rows = ["| Loss | " + " | ".join(f"`{s.name}`: {s.protocol}" for s in stages) + " |",
            "| --- |" + " --- |" * len(stages)]
    per_stage = [aggregates_of(s.records) for s in stages]
    labels = list(dict.fromkeys(label for aggs in per_stage for label in aggs))
    baselines = [next((a["verdict"]["baseline"] for a in aggs.values() if a.get("verdict")), None)
                 for aggs in per_stage]
    for label in labels:
        cells = []
        for aggs, baseline in zip(per_stage, baselines):
            if label not in aggs:
                cells.append("not in this suite")
            elif label == baseline:
                cells.append("baseline")
            else:
                cells.append(verdict_cell(aggs[label].get("verdict")))
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return rows


def conclusions(stage: Stage) -> list[str]:
    lines = []
    for label, agg in aggregates_of(stage.records).items():
        v = agg.get("verdict")
        if v and not v.get("seeds"):  # no seed of this loss was run (--loss): no contrast at all
            lines.append(f"- **{label}**: not run in this regeneration; no verdict.")
        elif v:
            lines.append(f"- **{label}**: {verdict_sentence(v)}")
    return lines


# ---------------------------------------------------------------------------------------------
# Claims


def claim_rows(stage: Stage, against: dict[str, list[dict]], paper: dict) -> list[str]:
    """The paper's claims beside what was found: a verdict where the claim is about the suite's
    primary metric (a contrast against the claimed loss as baseline), descriptive otherwise."""
    means = {label: agg for label, agg in aggregates_of(stage.records).items()}
    rows = [
        "| Paper's claim | Reading | Found | Status |",
        "| --- | --- | --- | --- |",
    ]
    values = {p["loss"]: p["values"] for p in paper}
    words = {"paper_new": fmt(values.get("improved", {}).get("recall@1"), 4),
             "paper_triplet": fmt(values.get("triplet", {}).get("recall@1"), 4),
             "paper_margin": fmt(values.get("margin", {}).get("recall@1"), 4)}
    for text, _, rival, metrics in CLAIMS:
        for reading in READINGS:
            if reading not in means or rival not in means:
                rows.append(f"| {text.format(**words)} | {reading} | not run | — |")
                continue
            found, status = [], []
            paired = paired_means(against.get(rival, []), reading, rival)
            for metric in metrics:
                a, b = (paired[metric] if paired and metric in paired
                        else (means[reading].get(metric), means[rival].get(metric)))
                if a is None or b is None:
                    found.append(f"{METRIC_NAMES[metric]}: not measured")
                    continue
                found.append(f"{METRIC_NAMES[metric]} {fmt(a)} vs {fmt(b)}")
                record = next((r for r in against.get(rival, [])
                               if r.get("seed") is None and r["label"] == reading), {})
                verdict = record.get("verdict")
                if verdict and verdict["metric"] == metric and verdict["baseline"] == rival:
                    status.append(verdict_sentence(verdict))
                    continue
                second = next((x for x in record.get("secondary") or []
                               if x["metric"] == metric), None)
                if second and second.get("ci"):
                    lo, hi = second["ci"]
                    status.append(f"{METRIC_NAMES[metric]}: Δ {fmt(second['delta'], sign=True)}, "
                                  f"unadjusted 95% CI [{fmt(lo, sign=True)}, {fmt(hi, sign=True)}]"
                                  f" over {second['seeds']} seeds, descriptive (not the suite's "
                                  "primary metric: no verdict).")
                else:
                    status.append(f"{METRIC_NAMES[metric]}: descriptive only (not the suite's "
                                  "primary metric: no verdict).")
            seeds = f" (means over the {paired['seeds']} seeds both ran in the claim's study)" \
                if paired else ""
            rows.append(f"| {text.format(**words)} | {reading} | {'; '.join(found)}{seeds} | "
                        f"{' '.join(status)} |")
    return rows


def paired_means(records: list[dict], reading: str, rival: str) -> dict | None:
    """metric -> (the reading's mean, the rival's mean) over the seeds both ran in a claim's
    study (``records``: its report's JSON), so that the values shown differ by the Δ its contrast
    tests; and "seeds": how many. None when the study has no common seed."""
    runs = {}
    for r in runs_of(records):
        if r.get("status", "done") == "done" and r["label"] in (reading, rival):
            runs.setdefault(r["label"], {})[r["seed"]] = r
    common = sorted(set(runs.get(reading, {})) & set(runs.get(rival, {})))
    if not common:
        return None
    out: dict = {"seeds": len(common)}
    for metric in METRIC_NAMES:
        pairs = [(runs[reading][s].get(metric), runs[rival][s].get(metric)) for s in common]
        if all(a is not None and b is not None for a, b in pairs):
            out[metric] = (sum(a for a, _ in pairs) / len(pairs), sum(b for _, b in pairs) / len(pairs))
    return out


def claim_study(copy: Path, rival: str, readings: list[str], cache: Path,
                args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """The two commands of a claim's study: ``compare --until-decided`` of the paper's readings
    against ``rival`` (the suite ``copy`` whose verdict.baseline is the rival), with the seed
    budget of the main study, which trains only the seeds these contrasts need beyond those
    cached; then ``report --until-decided`` of the same study, whose verdicts the page quotes.
    A study of its own, not a report of the main one's seeds: those were chosen by looking at
    contrasts with another baseline, so a fixed-sample test on them would claim more than the
    rule allows. Its family is the readings' contrasts with the rival (Holm over them)."""
    study = ["--suite", str(copy), "--cache-dir", str(cache),
             *(x for label in [rival, *readings] for x in ("--loss", label)),
             "--until-decided", "--max-seeds", str(args.max_seeds), "--step", str(args.step)]
    jobs = ["--jobs", str(args.jobs)] if args.jobs > 1 else []
    return (["compare", *study, "--threads", "1", "--device", "cpu", *jobs],
            ["report", *study, "--json"])


def rival_suite(suite_file: Path, rival: str, folder: Path) -> Path:
    """A copy of the suite whose ``verdict.baseline`` is ``rival`` (in ``folder``)."""
    import yaml

    suite = yaml.safe_load(suite_file.read_text())
    suite.setdefault("verdict", {})["baseline"] = rival
    path = folder / f"{suite_file.stem}-vs-{slug(rival)}.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False, allow_unicode=True))
    return path


# ---------------------------------------------------------------------------------------------
# The page


def demote(markdown: str, levels: int = 1) -> str:
    """``modbench report --markdown`` without its title block, headings moved down a level."""
    lines = markdown.splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith("## ")), 0)
    out = []
    for line in lines[start:]:
        if re.match(r"^#{1,5} ", line):
            line = "#" * levels + line
        out.append(line)
    return "\n".join(out).strip() + "\n"


def per_loss(suite: dict, key: str, default) -> str:
    """A training setting as the suite's losses take it: the suite's value, or where a loss
    sets its own (``lr``, ``optimizer``: a tuned suite's per-loss learning rates, an AdamW
    control) the range or the losses that differ, so that the table never shows one value
    for runs that used several."""
    def shown(value) -> str:
        return f"{value:.2g}" if isinstance(value, float) else str(value)

    own = {(e.get("label") or e.get("name")): e[key] for e in suite.get("losses", []) if e.get(key) is not None}
    if not own:
        return shown(default)
    if all(isinstance(v, (int, float)) for v in own.values()):
        values = sorted({float(v) for v in own.values()} | ({float(default)} if len(own) < len(suite["losses"]) else set()))
        return f"{shown(values[0])} to {shown(values[-1])}, per loss (the suite file lists each loss's)"
    others = "; ".join(f"{label}: {shown(v)}" for label, v in own.items() if v != default)
    return shown(default) + (f" ({others})" if others else "")


def departures(suite_file: Path, protocol: dict) -> list[str]:
    import yaml

    suite = yaml.safe_load(suite_file.read_text())
    train = suite.get("train", {})
    data = suite.get("dataset", {})
    rows = ["| Setting | Paper (section 4.3) | This suite |", "| --- | --- | --- |"]
    rows.append(f"| Backbone | ResNet50 | {suite.get('backbone', {}).get('name')} "
                f"(embedding {suite.get('backbone', {}).get('embedding_dim')}-d), from scratch |")
    subset = data.get("subset")
    rows.append("| Training images | 60,000 (all) | "
                + (f"{subset} per class (`subset: {subset}`)" if subset else "all") + " |")
    rows.append(f"| Epochs | {protocol.get('epochs')} | {train.get('epochs')} |")
    rows.append(f"| Learning rate | {protocol.get('lr'):g} | {per_loss(suite, 'lr', train.get('lr'))} |")
    rows.append(f"| Weight decay | {protocol.get('weight_decay'):g} | {train.get('weight_decay'):g} |")
    rows.append(f"| Optimizer | {protocol.get('optimizer')} | {per_loss(suite, 'optimizer', train.get('optimizer'))} "
                f"(batch {train.get('batch_size')}, sampler {train.get('sampler', 'random')}) |")
    rows.append("| Runs per cell | 1 (no seeds, no spread) | seeds until decided (verdict engine) |")
    rows.append("| Recall measured on | \"the validation sets\" (section 4) | the dataset's whole "
                "official test split (its size is in the protocol table below) |")
    return rows


def cost_table(steps: list[Step]) -> list[str]:
    """One row per step; the total wall time counts commands that ran side by side (one
    ``group``) by the group's own wall time (its last end), the total CPU time counts every one."""
    rows = ["| Step | Command | Wall | CPU (user + system) |", "| --- | --- | --- | --- |"]
    total_cpu = 0.0
    walls: dict[str, float] = {}
    for i, step in enumerate(steps):
        rows.append(f"| {step.title} | `{shown_command(step.argv)}` | "
                    f"{step.wall_s / 60:.1f} min | {step.cpu_s / 60:.1f} min |")
        key = step.group or f"step {i}"
        walls[key] = max(walls.get(key, 0.0), step.group_end_s if step.group else step.wall_s)
        total_cpu += step.cpu_s
    total_wall = sum(walls.values())
    rows.append(f"| **All** | | **{total_wall / 60:.1f} min** | **{total_cpu / 60:.1f} min** |")
    return rows


def suite_labels(suite_file: Path) -> list[str]:
    """The suite's loss labels, in its order (a loss without a label is called by its name).
    ``tune --loss X`` picks every loss whose name or label is X: a label that also picks another
    loss (an unlabelled ``cross-entropy`` beside a labelled one) would have two tune processes
    share that study, so it is refused."""
    import yaml

    losses = yaml.safe_load(suite_file.read_text())["losses"]
    labels = [l.get("label") or l["name"] for l in losses]
    for label in labels:
        picked = [l for l in losses if label in (l["name"], l.get("label") or l["name"])]
        if len(picked) > 1:
            sys.exit(f"error: `--loss {label}` picks {len(picked)} losses of {suite_file}: give "
                     "each loss a label of its own")
    return labels


def tune_jobs(labels: list[str], tune: list[str], scratch: Path) -> list[tuple[str, list[str]]]:
    """One ``modbench tune`` command per loss (run by ``run_pool``, ``--jobs`` at once). Each
    study is tuned by one process, its trials in sequence, so its sampler and pruner see the same
    history on a rerun and pick the same parameters, whichever process it fell to. (With
    ``tune --jobs N`` the N processes share each study, and a trial's parameters depend on which
    of the others finished first: the tuned suite would not be reproducible bit for bit.)"""
    return [(label, [*tune, "--loss", label, "--output", str(scratch / f"{slug(label)}.yaml")])
            for label in labels]


# ---------------------------------------------------------------------------------------------
# Tuning, one loss at a time, each kept beside the page


def tuning_files(out_dir: Path, suite: str, label: str) -> tuple[Path, Path]:
    """Where a loss's tuning is kept (``docs/findings/tuning/<suite>/``): the tuned suite
    ``tune --loss`` wrote for it alone, and the record of that command (cost, commit, machine).
    Tunings are the costly part of a regeneration (most of an hour of CPU per loss): kept, they
    let one be made over several sessions or machines (``--tune-only``, then
    ``--reuse-tuning``), each loss's tuning checked against this code before it is reused."""
    name = Path(suite).stem if suite.endswith((".yaml", ".yml")) else suite  # a file: its name
    folder = out_dir / "findings" / "tuning" / name
    return folder / f"{slug(label)}.yaml", folder / f"{slug(label)}.json"


MACHINE_KEYS = ("cpu_model", "cpu_id", "cpu_capability", "logical_cpus", "python", "torch", "os",
                "commit")
# What makes two machines of a kind: one thread on each computes the same bits.
MACHINE_KIND = ("cpu_model", "cpu_id", "cpu_capability", "torch")


KIND_FILE = "machine-kind.json"  # in the cache: the kind of machine its runs were trained on


def other_kind(recorded: dict, facts: dict) -> str | None:
    """The first ``MACHINE_KIND`` fact in which a record (a kept tuning's, a cache's) differs
    from this machine's ``facts``, or None when it is of this machine's kind."""
    return next((key for key in MACHINE_KIND if recorded.get(key) != facts[key]), None)


def resumed_on_another_kind(cache: Path, facts: dict) -> str | None:
    """Why an interrupted regeneration's cache cannot be resumed on this machine (None: it can;
    a new cache records this machine's kind). A run's cache key names its code, configuration,
    packages and threads, not the CPU: on a machine of another kind the same key's runs come out
    in other bits, and a resumed page would mix numbers no single machine reproduces."""
    path = cache / KIND_FILE
    if not path.exists():
        if any(cache.iterdir()):  # filled before the kind was recorded: nothing says which kind
            return (f"{shown_path(cache)} records no machine kind (its regeneration began before "
                    f"{KIND_FILE} was written), so its runs cannot be shown to be of this machine's kind")
        path.write_text(json.dumps({key: facts[key] for key in MACHINE_KIND}, sort_keys=True) + "\n")
        return None
    was = json.loads(path.read_text())
    key = other_kind(was, facts)
    if key is None:
        return None
    return (f"{shown_path(cache)} was filled on a machine with {key} {was.get(key)!r}; this one has "
            f"{facts[key]!r}, and its runs would mix two machines' numbers")


def keep_tuning(step: Step, scratch: Path, out_dir: Path, suite: str, facts: dict) -> None:
    """Copy a finished ``tune --loss`` command's tuned suite beside the page, with its record."""
    tuned, rec = tuning_files(out_dir, suite, step.name)
    tuned.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(scratch / f"{slug(step.name)}.yaml", tuned)
    rec.write_text(json.dumps({
        "label": step.name, "title": step.title, "argv": step.argv, "wall_s": step.wall_s,
        "cpu_s": step.cpu_s, "group": step.group, "group_end_s": step.group_end_s,
        "machine": {k: facts[k] for k in MACHINE_KEYS},
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }, indent=1, sort_keys=True) + "\n")


def kept_tuning(out_dir: Path, suite: str, label: str) -> dict:
    """A kept tuning's record (``keep_tuning``)."""
    return json.loads(tuning_files(out_dir, suite, label)[1].read_text())


def current_study(args: argparse.Namespace, label: str, cache: Path) -> str:
    """The name ``modbench tune`` gives this loss's study on this checkout: it is keyed by the
    trial run's configuration (the code's identity and the data's digest in it), the search
    space, the metric and the pruner (``tune.tuner.study_name``); no trial runs."""
    from modbench.tune.session import TuneSpec, open_session
    from modbench.tune.study import default_pruner

    spec = TuneSpec(suite_ref=args.suite, losses=(label,), trials=args.trials,
                    metric=args.tune_metric, pruner=default_pruner(args.trials),
                    cache_root=str(cache), device="cpu")
    (target,) = open_session(spec).targets
    return target.study_name


def stale_tuning(args: argparse.Namespace, label: str, out_dir: Path, cache: Path,
                 facts: dict) -> str | None:
    """Why the kept tuning of ``label`` cannot stand for a tuning on this checkout and machine
    (None: it can). It must be as ``tune`` wrote it (checksum), with this regeneration's trials
    and re-selection, of the study this code and data would tune (``current_study``), on a CPU
    model, family and model number, torch CPU capability and torch of this machine's
    (``MACHINE_KIND``; elsewhere the same trials can score, and so choose, differently)."""
    import yaml

    from modbench.tune.tuned_suite import tuned_section_verified

    tuned, rec = tuning_files(out_dir, args.suite, label)
    if not tuned.is_file() or not rec.is_file():
        return "none is kept"
    if not tuned_section_verified(tuned):
        return f"{shown_path(tuned)} is not as `modbench tune` wrote it (checksum)"
    data = yaml.safe_load(tuned.read_text())
    study = data["tuned"]["studies"].get(label) or {}
    if data["tuned"]["trials"] != args.trials:
        return f"it ran {data['tuned']['trials']} trials, not {args.trials}"
    resel = study.get("reselection")
    got = (resel["top"], len(resel["seeds"])) if resel else None
    want = (args.reselect_top, args.reselect_seeds) \
        if args.reselect_top and args.reselect_seeds else None
    if got != want:
        return f"its re-selection (top, seeds) was {got}, not {want}"
    if study.get("study") != current_study(args, label, cache):
        return "its study is not the one this code, data and search space tune"
    machine = kept_tuning(out_dir, args.suite, label).get("machine", {})
    key = other_kind(machine, facts)
    return None if key is None else f"it ran with {key} {machine.get(key)!r}, this machine has {facts[key]!r}"


def shown_path(path: Path) -> str:
    """``path`` relative to the repository where it lies inside it, else as given."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except (OSError, ValueError):
        return str(path)


def tuned_title(args: argparse.Namespace) -> str:
    return (f"{args.suite}, tuned ({args.trials} trials per loss on validation "
            f"{METRIC_NAMES.get(args.tune_metric, args.tune_metric)}, the best "
            f"{args.reselect_top} re-trained on {args.reselect_seeds} more "
            f"seed{'s' if args.reselect_seeds != 1 else ''})")


def claim_stages(stages: list[Stage], args: argparse.Namespace) -> list[Stage]:
    """The stages the paper's claims are checked on: the first suite, and its tuned version."""
    return [s for s in stages if s.name in (args.suite, f"{args.suite}-tuned")]


def how_it_was_made(argv: list[str], resumed: bool) -> tuple[str, str]:
    """The page's command block and the sentence under it. The block gives the command that
    makes the page from an empty cache (the invocation without ``--resume``: on a clean clone
    ``--resume`` refuses, there being no cache to continue); a resumed regeneration says so."""
    command = "bash scripts/findings.sh " + " ".join(shlex.quote(a) for a in argv if a != "--resume")
    block = ("```bash\n# README's set-up, then (real Fashion-MNIST from Debian's dataset-fashion-mnist):\n"
             f"{command}\n")
    if resumed:
        block += "# (this page: that command, interrupted, then continued with --resume)\n"
    block += "```\n"
    ran = ("which ran, from an empty cache" + (" and continued with `--resume`" if resumed else "")
           + ", on one CPU thread (`OMP_NUM_THREADS=1`, `--threads 1`):\n")
    return block, ran


def write_page(path: Path, stages: list[Stage], facts: dict, args: argparse.Namespace,
               json_files: list[Path], steps: list[Step], tuned_page: bool = False,
               reused: list[dict] | None = None) -> None:
    """``findings.md`` (the suites as written) or, with ``tuned_page``, ``findings-tuned.md``
    (the first suite tuned; ``reused``: the records of the kept tunings it took)."""
    paper = json.loads((ROOT / "modbench" / "paper_data" / "paper_tables.json").read_text())
    fm_rows = [r for t in paper["tables"] for r in t.get("rows", [])
               if r.get("dataset") == "fashion-mnist"]
    p = []
    if tuned_page:
        p.append(f"# Findings, tuned: the paper's Fashion-MNIST claims on `{args.suite}` with "
                 "every loss tuned\n")
    else:
        p.append(f"# Findings: the paper's Fashion-MNIST claims on `{args.suite}`"
                 + "".join(f", and `{o}`" for o in args.suites[1:]) + "\n")
    p.append("> Generated by `scripts/findings.sh`; do not edit by hand. Every number below was "
             "printed by a `modbench` command listed under \"How this page was made\", on the "
             "code of the commit named there. The per-run values (run key, seed, metrics) are "
             "in " + ", ".join(f"[`{f.relative_to(path.parent)}`]({f.relative_to(path.parent)})"
                               for f in json_files) + ".\n")
    if args.loss:
        p.append("> **Scope of this regeneration**: only "
                 + ", ".join(f"\"{l}\"" for l in args.loss)
                 + " were run (`--loss`); each suite's other losses show as \"—\" in the tables "
                 "and carry no verdict here. Run the script without `--loss` for all of them.\n")
    if tuned_page:
        p.append(f"> **Tuned**: every loss of `{args.suite}` was tuned with the same budget "
                 f"({args.trials} trials on the validation split, the test split never seen; "
                 "docs/tuning.md), then compared at its tuned settings. The losses at the "
                 "settings the suite cites are on [findings.md](findings.md).\n")
    else:
        tuned_link = ("[findings-tuned.md](findings-tuned.md)"
                      if (path.parent / "findings-tuned.md").is_file() or args.trials > 0
                      else "made by `scripts/findings.sh --trials 30`")
        p.append("> **At the suites' settings**: every loss here is at the settings its suite "
                 "cites (docs/losses.md), untuned. The comparison with every loss tuned is "
                 f"{tuned_link}.\n")

    p.append("## What was found\n")
    p.append("Each loss against the suite's baseline on the suite's primary metric, worded from "
             "the verdict engine's result (docs/reporting.md, \"Verdicts\"): better, worse, "
             "equivalent within ±δ, or undecided with the seeds it would take. The seeds were "
             "added by the sequential rule of `compare --until-decided` (docs/reporting.md, "
             "\"Seeds until decided\"), and the verdicts are that rule's, replayed by `report "
             "--until-decided`: O'Brien-Fleming alpha spending over the planned looks and Holm "
             "over the suite's primary contrasts keep the chance of any false better or worse, "
             "over every contrast and every look, at 5%. Each sequential CI is the contrast's "
             "interval at the level the rule tested it at its last look (so it excludes 0 exactly "
             "when the verdict is better or worse), and covers both seeds and test queries. "
             "Nothing here says two losses are the same unless it says equivalent.\n")
    for stage in stages:
        p.append(f"### {stage.title}; {stage.protocol}\n")
        p.extend(conclusions(stage) or ["- No contrast could be tested (fewer than 2 seeds)."])
        p.append("")
    if len(stages) > 1:
        p.append("The same verdicts side by side (each column against its suite's baseline; "
                 "the protocol is the report's, with the classes on each side):\n")
        p.extend(side_by_side(stages))
        p.append("")
        if any(s.protocol.startswith("class-disjoint") for s in stages):
            p.append("The class-disjoint protocol is not the paper's: the paper trains and "
                     "retrieves on the same ten classes. It is how metric-learning benchmarks "
                     "compare losses (train on some classes, retrieve among classes never "
                     "trained on; docs/datasets.md, \"Protocols: closed-set and "
                     "class-disjoint\"), so it asks whether a loss's embedding carries over to unseen classes. Its suite "
                     "file says which classes go where.\n")

    p.append("## The paper's claims beside what was found\n")
    checked = claim_stages(stages, args)
    p.append("The paper (Table 2 rows 10-12, section 4.3, Figure 9) trains ResNet50 on "
             "Fashion-MNIST and reports one run per loss. Here each claim is checked on "
             + " and on ".join(f"`{s.name}`" for s in checked)
             + " for both readings of the paper's loss: equation (4) as written "
             "(`improved`, \"New loss\") and the sigmoid reading of equations (1), (2), (6)-(8) "
             "(`improved-sigmoid`). A claim on the suite's primary metric gets a verdict from a "
             "study of its own with the claimed rival as baseline: `modbench compare "
             "--until-decided` on a copy of the suite whose `verdict.baseline` names the rival, "
             "with only the rival and the readings (one family of their contrasts, Holm over "
             "them; it trains the seeds those contrasts need beyond the cached ones, within the "
             "same seed budget), and its verdicts from `modbench report --until-decided`. A "
             "claim on another metric is descriptive only (its unadjusted interval from the "
             "same report, no verdict).\n")
    for stage in checked:
        if len(checked) > 1:
            p.append(f"### {stage.title}\n")
        p.extend(claim_rows(stage, stage.against, fm_rows))
        p.append("")
    p.append("Departures of this CPU-sized suite from the paper, stated once (the tables' "
             "protocol notes list the run settings in full):\n")
    # the suite the claims' stage ran: on the tuned page the tuned suite, with its per-loss rates
    p.extend(departures(stages[0].suite_file, paper.get("protocol", {})))
    p.append("")

    p.append("## How this page was made\n")
    p.extend(how_it_was_made(args.argv, resumed=args.resume))
    p.extend(cost_table(steps))
    if reused:
        p.append("")
        p.append("Each loss was tuned by a command of its own, and these tunings were kept "
                 "beside this page (`docs/findings/tuning/`) from earlier invocations "
                 "(`--tune-only`) and reused (`--reuse-tuning`): the script reused each only "
                 "after checking that this code, data and search space name the same study, "
                 "with the same trials and re-selection, on a machine of this one's kind (CPU "
                 "model, family and model number, torch's CPU capability, torch). Where each "
                 "ran:\n")
        p.append("| Tuning | Commit | CPU | CPU capability | torch | Date |\n"
                 "| --- | --- | --- | --- | --- | --- |")
        for t in reused:
            m = t["machine"]
            p.append(f"| {t['label']} | {m['commit']} | {m['cpu_model']} ({m['cpu_id']}) | "
                     f"{m['cpu_capability']} | {m['torch']} | {t['date']} |")
    if args.resume:
        p.append("")
        p.append("The regeneration was resumed (`--resume`): the table lists every training step "
                 "the script recorded in its cache, over all sessions. A step whose `modbench` "
                 "process was stopped (SIGTERM) is listed with the time it ran; time spent under "
                 "a script that was itself killed is not counted.")
    p.append("")
    p.append("| Machine | |\n| --- | --- |")
    p.append(f"| CPU (as /proc/cpuinfo reports it) | {facts['cpu_model']} |")
    p.append(f"| CPU family, model, stepping (/proc/cpuinfo) | {facts['cpu_id']} |")
    p.append(f"| CPU capability (torch's kernels) | {facts['cpu_capability']} |")
    p.append(f"| Logical CPUs / threads per run | {facts['logical_cpus']} / 1 "
             f"(`OMP_NUM_THREADS={facts['omp_num_threads']}`) |")
    p.append(f"| Python / torch | {facts['python']} / {facts['torch']} |")
    p.append(f"| OS | {facts['os']} |")
    p.append(f"| Code | commit {facts['commit']} |")
    p.append(f"| Date | {facts['date']} |")
    p.append("")
    p.append("At one thread on a machine of the same kind (the CPU model, family, model and "
             "stepping, torch's CPU capability and torch version above) a rerun "
             "reproduces every per-run value bit for bit; `tests/test_published_findings.py` "
             "(a `realdata` test in `.ci/run`) retrains the first cross-entropy run of each suite "
             "published here and fails if its metrics differ. Run keys identify runs on the "
             "commit above; any later edit of the engine changes the keys, not the values, "
             "which that test checks.\n")

    for stage in stages:
        p.append(f"## Tables: {stage.title}\n")
        shown = shown_command(["report", "--suite", stage.suite_arg, "--until-decided",
                               "--max-seeds", str(args.max_seeds), "--step", str(args.step),
                               *(x for label in args.loss for x in ("--loss", label)),
                               "--markdown"])
        p.append(f"Printed by `{shown}` from the cache this script filled.\n")
        p.append(demote(stage.markdown, 1))
    path.write_text("\n".join(p))


# ---------------------------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suite", action="append", default=[], dest="suites",
                    help="built-in suite name, repeatable; the first is the closed-set suite the "
                         "paper's claims are checked against (default: fashion-mnist-cpu, then "
                         "fashion-mnist-disjoint)")
    ap.add_argument("--loss", action="append", default=[], help="only these losses (labels)")
    ap.add_argument("--max-seeds", type=int, default=6, help="seed budget of --until-decided")
    ap.add_argument("--step", type=int, default=1, help="seeds added per round")
    ap.add_argument("--trials", type=int, default=0,
                    help="tuning trials per loss (0: untuned only; the issue's bar is 30)")
    ap.add_argument("--tune-metric", default="map@r",
                    help="validation metric the tuning maximises (modbench tune's default)")
    ap.add_argument("--reselect-top", type=int, default=3)
    ap.add_argument("--reselect-seeds", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=1,
                    help="runs trained at once (one thread each); with --trials, losses tuned "
                         "at once (one tune process per loss)")
    ap.add_argument("--cache-dir", type=Path, default=ROOT / "findings-cache")
    ap.add_argument("--resume", action="store_true",
                    help="keep the cache of an interrupted regeneration (default: start empty)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs",
                    help="folder of findings.md, findings-tuned.md and findings/")
    ap.add_argument("--tune-only", action="store_true",
                    help="with --trials: only tune (each loss's tuning kept in "
                         "findings/tuning/<suite>/), no comparison, no page")
    ap.add_argument("--tuned-only", action="store_true",
                    help="with --trials: only the tuned comparison and findings-tuned.md (the "
                         "suites as written, and findings.md, are left as they are)")
    ap.add_argument("--reuse-tuning", action="store_true",
                    help="with --trials: take a loss's kept tuning instead of tuning it again "
                         "when this code, data, search space, trial budget, CPU model and torch "
                         "would make the same one (the page lists each reused tuning)")
    args = ap.parse_args(argv)
    if (args.tune_only or args.tuned_only or args.reuse_tuning) and args.trials < 1:
        ap.error("--tune-only, --tuned-only and --reuse-tuning need --trials")
    if args.tune_only and args.tuned_only:
        ap.error("--tune-only and --tuned-only exclude each other")
    args.suites = args.suites or list(DEFAULT_SUITES)
    args.suite = args.suites[0]
    args.argv = argv
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    if os.environ.get("OMP_NUM_THREADS") != "1":
        sys.exit("error: run through scripts/findings.sh (it sets OMP_NUM_THREADS=1)")
    cache = args.cache_dir.resolve()
    if cache.exists() and not args.resume:
        shutil.rmtree(cache)
    cache.mkdir(parents=True, exist_ok=True)
    facts = machine_facts()
    why = resumed_on_another_kind(cache, facts)
    if why:
        sys.exit(f"error: --resume: {why}; start without --resume (an empty cache)")
    steps_file = cache / STEPS_FILE
    log = cache / "findings.log"
    out_dir = args.out.resolve()
    (out_dir / "findings").mkdir(parents=True, exist_ok=True)

    common = ["--device", "cpu", "--cache-dir", str(cache)]
    losses = [x for l in args.loss for x in ("--loss", l)]
    decide = ["--until-decided", "--max-seeds", str(args.max_seeds), "--step", str(args.step)]
    jobs = ["--jobs", str(args.jobs)] if args.jobs > 1 else []

    stages, tuned_stages, reused = [], [], []
    if not (args.tune_only or args.tuned_only):
        for name in args.suites:
            stages.append(Stage(name, name, f"{name}, at the suite's settings"))
            run_step("Train until decided", ["compare", "--suite", name, "--threads", "1",
                                             *common, *losses, *decide, *jobs], log)
    if args.trials > 0:
        import yaml

        from modbench.errors import UserError
        from modbench.suite.loader import locate_suite
        from modbench.tune.tuned_suite import merge_tuned_suites, write_tuned_suite

        tuned_file = out_dir / "findings" / f"{args.suite}-tuned.yaml"
        # The tuning's runs (trials on validation) in a cache of their own: in the compared
        # suites' cache, their reports would list them, in one sitting but not when the
        # tunings are reused from another (--reuse-tuning), and the pages would differ.
        tune = ["tune", "--suite", args.suite, "--trials", str(args.trials), "--metric",
                args.tune_metric, "--reselect-top", str(args.reselect_top), "--reselect-seeds",
                str(args.reselect_seeds), "--device", "cpu", "--cache-dir", str(cache / "tuning")]
        labels = args.loss or suite_labels(locate_suite(args.suite))
        todo = list(labels)
        if args.reuse_tuning:  # the kept tunings this checkout and machine would make again
            todo = []
            for label in labels:
                why = stale_tuning(args, label, out_dir, cache, facts)
                print(f"[findings] Tune: {label}: "
                      + (f"tuning ({why})" if why else "reusing the kept tuning"),
                      file=sys.stderr, flush=True)
                (todo.append(label) if why else reused.append(label))
        # The studies: one tune process per loss, --jobs at once (each study's trials in
        # sequence, so that the tuned settings reproduce; tune_jobs), each loss's tuned suite
        # kept beside the page as soon as its command ends (keep_tuning).
        scratch = cache / "tuned-per-loss"
        scratch.mkdir(exist_ok=True)
        run_pool("Tune", tune_jobs(todo, tune, scratch), log, args.jobs, page="tune",
                 on_done=lambda step: keep_tuning(step, scratch, out_dir, args.suite, facts))
        if args.tune_only:
            print(f"[findings] kept the tunings of {len(labels)} loss(es) in "
                  f"{shown_path(tuning_files(out_dir, args.suite, labels[0])[0].parent)}; "
                  "`--reuse-tuning` uses them", file=sys.stderr)
            return 0
        # The tuned suite: the losses' tuned suites merged in the suite's order (nothing trains).
        parts = [tuning_files(out_dir, args.suite, label)[0] for label in labels]
        try:
            merged = merge_tuned_suites([(shown_path(f), yaml.safe_load(f.read_text()))
                                         for f in parts], order=labels)
        except UserError as err:
            sys.exit(f"error: {err}")
        write_tuned_suite(tuned_file, merged)
        tuned_stages.append(Stage(f"{args.suite}-tuned", str(tuned_file), tuned_title(args)))
        run_step(
            "Train the tuned suite until decided",
            ["compare", "--suite", str(tuned_file), "--threads", "1", *common, *losses, *decide,
             *jobs], log, page="tuned")

    # The verdicts are the sequential rule's that chose the seeds: `report --until-decided`
    # replays it on the cached runs (a plain report would test the final seeds as a fixed sample,
    # ignoring that they were chosen by looking; docs/reporting.md).
    replay = ["--until-decided", "--max-seeds", str(args.max_seeds), "--step", str(args.step), *losses]
    json_files: dict[str, Path] = {}
    for stage in stages + tuned_stages:
        rep = ["report", "--suite", stage.suite_arg, "--cache-dir", str(cache), *replay]
        stage.records = json.loads(run_step("Report (JSON)", [*rep, "--json"], None, True).stdout)
        stage.markdown = run_step("Report (Markdown)", [*rep, "--markdown"], None, True).stdout
        path = out_dir / "findings" / f"{stage.name}.json"
        path.write_text(json.dumps(stage.records, indent=1, sort_keys=True) + "\n")
        json_files[stage.name] = path

    # The claims' contrasts, on the closed-set suite and on its tuned version: each claimed rival
    # as the baseline of a study of its own (`claim_study`). The suite's own verdict.baseline
    # takes precedence over --baseline, so each study runs on a copy of the suite whose
    # verdict.baseline names the rival (the verdict section is not part of any run key: the
    # copy finds the same runs).
    for stage in claim_stages(stages + tuned_stages, args):
        # (not `labels`: that name holds the suite's losses in order, for the tuned page below)
        present = set(aggregates_of(stage.records))
        for _, _, rival, _ in CLAIMS:
            readings = [r for r in READINGS if r in present]
            if rival in present and readings and rival not in stage.against:
                copy = rival_suite(stage.suite_file, rival, cache)
                train, report = claim_study(copy, rival, readings, cache, args)
                run_step(f"Claims: train until decided against {rival}", train, log,
                         page="tuned" if stage in tuned_stages else "suites")
                stage.against[rival] = json.loads(run_step(
                    f"Report against {rival}", report, None, True).stdout)

    steps = [Step(d["title"], d["argv"], d["wall_s"], d["cpu_s"], group=d.get("group"),
                  group_end_s=d.get("group_end_s", 0.0), page=d.get("page", "suites"))
             for d in map(json.loads, steps_file.read_text().splitlines())]
    facts = machine_facts()  # again: the page's date is when it was written
    pages, tunings = [], []
    if stages:
        pages.append((out_dir / "findings.md", stages, [s for s in steps if s.page == "suites"]))
    if tuned_stages:
        # every loss's tuning as its record says, whether it ran now or was kept (reused)
        tunings = [kept_tuning(out_dir, args.suite, label) for label in labels]
        tune_steps = [Step(t["title"], t["argv"], t["wall_s"], t["cpu_s"], group=t["group"],
                           group_end_s=t["group_end_s"], page="tune") for t in tunings]
        pages.append((out_dir / "findings-tuned.md", tuned_stages,
                      tune_steps + [s for s in steps if s.page == "tuned"]))
    for path, page_stages, page_steps in pages:
        tuned_page = page_stages is tuned_stages
        write_page(path, page_stages, facts, args, [json_files[s.name] for s in page_stages],
                   page_steps, tuned_page=tuned_page,
                   reused=[t for t in tunings if t["label"] in reused] if tuned_page else [])
        print(f"[findings] wrote {path} and {len(page_stages)} JSON file(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
