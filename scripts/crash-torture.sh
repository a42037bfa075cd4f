#!/usr/bin/env bash
# Kill -9 torture of run files (issue 16), the long version of CrashTorture.* in the test suite:
# KILLS kills (default 100) of a training run and of an online probe run, each resumed, with
# every file checked after every kill and the final files compared with uninterrupted runs.
# Usage: bash scripts/crash-torture.sh [KILLS] [SEED]   (after scripts/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-100}
seed=${2:-11}
start=$(date +%s)
for mode in train probe; do
  /usr/bin/python3 tests/cli/crash_torture.py --binary build/bnlandscape --mode "$mode" --kills "$kills" --seed "$seed" --verbose
done
echo "crash torture: $kills kills per mode, $(( $(date +%s) - start )) s in all"
