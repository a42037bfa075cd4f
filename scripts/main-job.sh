#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main job: the Fashion-MNIST MLP for 3 epochs
# with and without our BatchNorm, probing the landscape every 50 steps, then a side-by-side comparison
# and the interactive HTML report of the two runs (runs/report.html).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh bnlandscape
mkdir -p runs
for variant in nobn bn; do
  ./build/bnlandscape probe --config configs/main/fashion_mlp_${variant}.toml --overwrite
done
./build/bnlandscape compare runs/fashion_mlp_nobn.h5 runs/fashion_mlp_bn.h5
/usr/bin/python3 -m plots report runs/fashion_mlp_nobn.h5 runs/fashion_mlp_bn.h5 --out runs/report.html
