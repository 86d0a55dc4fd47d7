#!/usr/bin/env bash
# Regenerate docs/findings.md and docs/findings/*.json from an empty cache on the current code
# (scripts/findings.py says what it runs). One CPU thread everywhere, so that a rerun on a machine
# of the same kind reproduces every number bit for bit.
#   bash scripts/findings.sh                       # fashion-mnist-cpu, untuned, seeds until decided
#   bash scripts/findings.sh --trials 30           # and the tuned comparison (hours of CPU)
#   bash scripts/findings.sh --resume ...          # continue an interrupted regeneration
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
exec python scripts/findings.py "$@"
