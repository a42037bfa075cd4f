#!/usr/bin/env bash
# Training-throughput benchmark, end to end: bnlandscape vs PyTorch in Python (data preloaded,
# and the original study's torchvision + DataLoader pipeline) vs the GEMM-only limit, MLP and
# ConvMLP with and without BN, a thread-setting sweep, and the peak memory of a full
# Fashion-MNIST MLP epoch. Writes bench/RESULTS.md. About 12 minutes on 2 idle cores.
#
#   bench/run_train_bench.sh [train_bench.py options]   e.g. --quick (smoke test, ~3 min),
#                                                         --reps 3, --wait-quiet 1800, --json
#
# Needs: build/bnlandscape (cmake --build build --target bnlandscape -j2), Debian's
# python3-torch, python3-torchvision, python3-h5py, the `time` package (/usr/bin/time), g++,
# and the Fashion-MNIST files in /usr/share/datasets/fashion-mnist. Timings are only
# meaningful on an otherwise idle machine: the script waits (up to --wait-quiet seconds) for
# the 1-minute load average to fall to --max-load (1.5) and records the CPU use of other
# processes during every measurement in RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

[[ -x build/bnlandscape ]] || { echo "missing build/bnlandscape: cmake --build build --target bnlandscape -j2" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "missing /usr/bin/time: apt-get install -y time" >&2; exit 1; }
/usr/bin/python3 -c 'import torch, torchvision, h5py' 2>/dev/null ||
  { echo "missing python3-torch / python3-torchvision / python3-h5py: apt-get install -y python3-torchvision python3-h5py" >&2; exit 1; }

# Each measurement sets its own thread counts; nothing inherited from the caller.
unset OMP_NUM_THREADS OPENBLAS_NUM_THREADS GOTO_NUM_THREADS MKL_NUM_THREADS
echo "uptime: $(uptime)"
exec /usr/bin/python3 bench/train_bench.py "$@"
