#!/usr/bin/env bash
# Edge of stability across learning rates (issue 25 section 2; Cohen et al. 2021, Santurkar et al.
# 2018 Figure 1, Bjorck et al. 2018): the Fashion-MNIST MLP, plain SGD at lr 0.02 ... 1.0, no BN vs
# our BN, seeds 0-2, 3 epochs, each a `bnlandscape probe` (configs/edge_of_stability/) probing every
# 50 steps: path measures, raw / layer / adaptive top eigenvalue of the Hessian and of the
# Gauss-Newton matrix, test accuracy every 50 steps. Then summarize.py -> results.md and figures/.
#
# Runs are ordered seed by seed; finished run files are skipped and an interrupted one continues
# from its last checkpoint (common.sh's run_one), so rerunning resumes. JOBS runs at a time
# (default 2, one thread each). BNL, PY, RUNS (default runs/edge_of_stability), SEEDS (default
# "0 1 2"), LRS (default "0.02 0.05 0.1 0.2 0.5 1.0") as in the other studies.
source "$(dirname "$0")/../common.sh"
RUNS="${RUNS:-$ROOT/runs/edge_of_stability}"
SEEDS="${SEEDS:-0 1 2}"
LRS="${LRS:-0.02 0.05 0.1 0.2 0.5 1.0}"
JOBS="${JOBS:-2}"
HERE="$ROOT/analyses/edge_of_stability"
mkdir -p "$RUNS"

t0=$SECONDS
for seed in $SEEDS; do
  for lr in $LRS; do
    for v in nobn bn; do
      in_pool "$JOBS" run_one probe "configs/edge_of_stability/fashion_mlp_${v}.toml" \
        "$RUNS/fashion_mlp_${v}_lr${lr}_seed${seed}.h5" --lr "$lr" --seed "$seed"
    done
  done
done
drain_pool
echo "time runs: $((SECONDS - t0)) s"

"$PY" "$HERE/summarize.py" "$RUNS" --out "$HERE/results.md" --json "$HERE/results.json" \
  --figures "$HERE/figures"
