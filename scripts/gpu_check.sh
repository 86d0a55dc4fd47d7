#!/usr/bin/env bash
# One short check on a machine with a CUDA GPU (a few minutes):
#   1. the GPU-marked tests (pytest -m gpu): bf16 step, no host sync per step, non-finite
#      detection, CPU/CUDA agreement of crops and metrics, torch.compile;
#   2. benchmarks/train_speed.py --device cuda --json: images/s of (a) the compute limit,
#      (b) modbench's loop, (c) a torchvision DataLoader pipeline;
# then prints one table. Files (test log, JSON) go to $OUT (default: a temporary folder).
#
#   scripts/gpu_check.sh                  # the current python, if it has torch with CUDA
#   PYTHON=/path/to/python scripts/gpu_check.sh
#   MODBENCH_GPU_VENV=1 scripts/gpu_check.sh   # else: a fresh venv with `pip install -e .[test]`
#
# Exit status: 0 when the tests pass (goals missed are reported, not failed), else non-zero.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-$(mktemp -d -t modbench-gpu-check-XXXXXX)}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"

has_cuda_torch() {
    "$1" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" >/dev/null 2>&1
}

if ! has_cuda_torch "$PY"; then
    if [ "${MODBENCH_GPU_VENV:-0}" = "1" ]; then
        echo "gpu_check: creating .venv-gpu-check (pip install -e .[test]) ..." >&2
        python3 -m venv .venv-gpu-check || exit 2
        PY="$ROOT/.venv-gpu-check/bin/python"
        "$PY" -m pip install -q -e ".[test]" || exit 2
    fi
    if ! has_cuda_torch "$PY"; then
        echo "gpu_check: $PY has no torch with a CUDA device; set PYTHON=... or MODBENCH_GPU_VENV=1" >&2
        exit 2
    fi
fi
# The checkout's modbench, even where another copy is installed; hide no test behind a thread cap.
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
"$PY" -c "import modbench, torch; print('modbench from', modbench.__file__, '| torch', torch.__version__, '|', torch.cuda.get_device_name(0))" >&2

echo "gpu_check: pytest -m gpu ..." >&2
timeout 600 "$PY" -m pytest -m gpu -q -rs -p no:cacheprovider tests >"$OUT/gpu_tests.txt" 2>&1
TESTS_RC=$?
tail -n 15 "$OUT/gpu_tests.txt" >&2

echo "gpu_check: benchmarks/train_speed.py --device cuda --json ..." >&2
timeout 900 "$PY" benchmarks/train_speed.py --device cuda --json --rounds "${ROUNDS:-3}" \
    >"$OUT/train_speed_cuda.json" 2>"$OUT/train_speed_cuda.log"
BENCH_RC=$?
[ $BENCH_RC -ne 0 ] && tail -n 20 "$OUT/train_speed_cuda.log" >&2

"$PY" - "$OUT" "$TESTS_RC" "$BENCH_RC" <<'PYEOF'
import json, re, sys
from pathlib import Path

out, tests_rc, bench_rc = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
log = (out / "gpu_tests.txt").read_text(errors="replace")
summary = [line.strip("= ") for line in log.splitlines()
           if re.search(r"\d+ (passed|failed|skipped|errors?|deselected)", line)]
tests = summary[-1] if summary else f"no summary (exit {tests_rc})"
if "skipped" in tests:
    tests += " (a GPU test skipped on a CUDA machine: see gpu_tests.txt)"
try:
    results = json.loads((out / "train_speed_cuda.json").read_text())
except (OSError, ValueError):
    results = []

from rich.console import Console
from rich.table import Table

gpu = results[0]["machine"].get("gpu", "?") if results else "?"
table = Table(title=f"modbench GPU check ({gpu}); tests: {tests}", title_justify="left")
for col in ("case", "batch", "(a) limit img/s", "(b) modbench img/s", "(c) conventional img/s",
            "(b)/(a) goal >= 0.9", "(b)/(c) goal >= 2"):
    table.add_column(col, justify="left" if col == "case" else "right")
for r in results:
    ra, rc = r["modbench_vs_limit"], r["modbench_vs_conventional"]
    table.add_row(r["case"], str(r["batch_size"]), f"{r['limit_img_s']:,.0f}", f"{r['modbench_img_s']:,.0f}",
                  f"{r['conventional_img_s']:,.0f}", f"{ra:.3f} " + ("ok" if ra >= 0.9 else "MISSED"),
                  f"{rc:.2f} " + ("ok" if rc >= 2 else "MISSED"))
if not results:
    table.add_row(f"benchmark failed (exit {bench_rc}); see {out}/train_speed_cuda.log", "", "", "", "", "", "")
Console(width=150).print(table)
print(f"files: {out}")
PYEOF

if [ $TESTS_RC -ne 0 ] || [ $BENCH_RC -ne 0 ]; then
    exit 1
fi
