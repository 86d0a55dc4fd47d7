"""The one rule that decides whether a cached result answers a command: used by the engine's
Runner (``engine/runner.py``) before it trains or evaluates, and by the CLI's torch-free cached
answer (``bench/run.py``), so that both reuse exactly the same results.

A finished result is reused when

- it was computed with the numerics the command computes with (device type, precision, CPU
  threads: ``run_numerics``); otherwise it is *refused*, and the reason names both;
- and it answers the evaluation asked for (same k-means settings, every requested metric
  stored); otherwise the engine measures what is missing from the checkpoint.

Torch-free: the numerics of a run are known from its configuration (``train.cpu_threads``, part
of its key) and the device type, never from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modbench.cache.store import QUERIES
from modbench.identity import numerics_mismatch
from modbench.suite.schema import DEFAULT_CPU_THREADS


def run_threads(config: dict[str, Any]) -> int:
    """The intra-op CPU threads a run computes with: its ``train.cpu_threads`` (always set since
    the suite's default became a fixed count; a configuration written before that counts as the
    default count)."""
    return int((config.get("train") or {}).get("cpu_threads") or DEFAULT_CPU_THREADS)


def run_numerics(config: dict[str, Any], device_type: str) -> dict[str, Any]:
    """What besides the code and the configuration changes a run's numbers: device type,
    precision (bf16 autocast on CUDA; on the CPU float32, or bf16 autocast with the run's
    ``train.precision: bf16``) and, on the CPU, the intra-op thread count (reductions split
    differently)."""
    cuda = device_type == "cuda"
    bf16 = cuda or (config.get("train") or {}).get("precision") == "bf16"
    return {
        "device": device_type,
        "precision": "bf16-autocast" if bf16 else "float32",
        "cpu_threads": None if cuda else run_threads(config),
    }


@dataclass(frozen=True)
class Reuse:
    """What a cached result is to a command: ``refused`` (why, naming both numerics) or usable,
    then ``evaluate``: True when a requested metric or k-means setting is missing from it."""

    refused: str | None = None
    evaluate: bool = False

    @property
    def usable_as_is(self) -> bool:
        return self.refused is None and not self.evaluate


def reuse_of(result: dict[str, Any], eval_cfg: dict[str, Any], numerics: dict[str, Any]) -> Reuse:
    """The reuse rule (module docstring) for a verified ``result`` of a run and a command that
    computes with ``numerics`` and asks for ``eval_cfg``."""
    why = numerics_mismatch(result.get("numerics"), numerics)
    if why is not None:
        return Reuse(refused=why)
    return Reuse(evaluate=not evaluation_answers(result, eval_cfg))


def evaluation_answers(result: dict[str, Any], eval_cfg: dict[str, Any]) -> bool:
    """Whether a stored ``result`` answers ``eval_cfg`` without evaluating again: the same
    k-means settings (seed and n_init), its per-query records recorded, and every requested
    metric stored."""
    stored = result.get("eval") or {}
    if any(stored.get(k) != eval_cfg.get(k) for k in ("kmeans_seed", "kmeans_n_init")):
        return False
    if QUERIES not in (result.get("files") or {}):  # per-query records: added by evaluating again
        return False
    have = result.get("metrics") or {}
    return all(name in have for name in eval_cfg.get("metrics", ()))
