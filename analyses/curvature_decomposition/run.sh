#!/usr/bin/env bash
# Hessian vs Gauss-Newton at the start, middle and end of training (issue 25 section 2; Ghorbani,
# Krishnan, Xiao 2019; Papyan 2019-2020): the MLP, the ConvMLP (BN in the dense head) and the
# paper's VGG-11 at width 0.25 (BN after every convolution), BN vs no BN, seeds 0-2. Every point
# gets configs/curvature_decomposition/probe.toml: top-12 eigenvalues of H and of G, the
# gradient's share in their top eigenspaces, and both SLQ densities, on the same fixed probe set.
#
# MLP and ConvMLP: one `bnlandscape probe` run each, probing at step 0, half way and at the end.
# VGG: the start is the step-0 probe of a one-step probe run (same seed, so the same initial
# weights as the paper_vgg run); middle and end are offline probes of the paper_vgg study's lr 0.1
# run at its two epoch checkpoints (run analyses/paper_vgg/run.sh first; PAPER_RUNS, default
# runs/paper_vgg). Finished files are skipped, interrupted runs resume (common.sh's run_one).
# JOBS (default 2), BNL, PY, RUNS (default runs/curvature_decomposition), SEEDS (default "0 1 2").
source "$(dirname "$0")/../common.sh"
RUNS="${RUNS:-$ROOT/runs/curvature_decomposition}"
PAPER_RUNS="${PAPER_RUNS:-$ROOT/runs/paper_vgg}"
SEEDS="${SEEDS:-0 1 2}"
JOBS="${JOBS:-2}"
HERE="$ROOT/analyses/curvature_decomposition"
CFG=configs/curvature_decomposition
mkdir -p "$RUNS/vgg"

# vgg_checkpoint_probe RUN GROUP OUT: the decomposition probe of RUN's checkpoint GROUP.
vgg_checkpoint_probe() {
  local run=$1 group=$2 out=$3
  if finished "$out"; then echo "skip $out (already finished)"; return 0; fi
  echo "run  probe --checkpoint $run --checkpoint-group $group -> $out"
  "$BNL" probe --checkpoint "$run" --checkpoint-group "$group" --config "$ROOT/$CFG/probe.toml" \
    --sharpness-scaling none --out "$out" --overwrite --quiet
}

# vgg_points V SEED: start (one-step probe run), middle and end (the paper_vgg run's checkpoints).
vgg_points() {
  local v=$1 seed=$2 name="fashion_vgg_${1}_seed${2}"
  run_one probe "configs/paper_vgg/fashion_vgg_${v}.toml" "$RUNS/vgg/${name}_start.h5" \
    --config "$ROOT/$CFG/probe.toml" --sharpness-scaling none --train-subset 128 --epochs 1 \
    --step-interval 1 --eval-every 0 --lr 0.1 --seed "$seed"
  local paper="$PAPER_RUNS/fashion_vgg_${v}_lr0.1_seed${seed}.h5"
  if [[ ! -f "$paper" ]]; then echo "analyses: $paper missing; run analyses/paper_vgg/run.sh first" >&2; return 1; fi
  local groups
  groups=($(epoch_checkpoints "$paper"))
  vgg_checkpoint_probe "$paper" "${groups[0]}" "$RUNS/vgg/${name}_middle.h5"
  vgg_checkpoint_probe "$paper" "${groups[-1]}" "$RUNS/vgg/${name}_end.h5"
}

# epoch_checkpoints FILE: FILE's checkpoint groups by step (the paper_vgg runs checkpoint at the
# end of each of their 2 epochs: the middle and the end of training).
epoch_checkpoints() {
  "$PY" - "$1" <<'PYEOF'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    c = f["checkpoints"]
    print(" ".join("/checkpoints/" + k for k in sorted(c, key=lambda k: int(c[k].attrs["step"]))))
PYEOF
}

t0=$SECONDS
for seed in $SEEDS; do
  for v in nobn bn; do
    in_pool "$JOBS" run_one probe "$CFG/fashion_mlp_${v}.toml" "$RUNS/fashion_mlp_${v}_seed${seed}.h5" \
      --config "$ROOT/$CFG/probe.toml" --seed "$seed"
    in_pool "$JOBS" run_one probe "$CFG/fashion_cnn_${v}.toml" "$RUNS/fashion_cnn_${v}_seed${seed}.h5" \
      --config "$ROOT/$CFG/probe.toml" --seed "$seed"
    in_pool "$JOBS" vgg_points "$v" "$seed"
  done
done
drain_pool
echo "time runs: $((SECONDS - t0)) s"

# VGG "late": the last checkpoints of paper_vgg's long pair (seed 0, lr 0.1, 8 epochs), where the
# network without BN has left its plateau (skipped until that pair exists).
if [[ " $SEEDS " == *" 0 "* ]]; then
  for v in nobn bn; do
    long="$PAPER_RUNS/long/fashion_vgg_${v}_lr0.1_seed0.h5"
    if [[ -f "$long" ]] && finished "$long"; then
      groups=($(epoch_checkpoints "$long"))
      in_pool "$JOBS" vgg_checkpoint_probe "$long" "${groups[-1]}" "$RUNS/vgg/fashion_vgg_${v}_seed0_late.h5"
    fi
  done
  drain_pool
fi

"$PY" "$HERE/summarize.py" "$RUNS" --out "$HERE/results.md" --json "$HERE/results.json" \
  --figures "$HERE/figures"
