#!/usr/bin/env bash
# The paper's own network (issue 25 section 2; Santurkar et al. 2018, Figures 1 and 4): VGG-11 at
# width 0.25, BN after every convolution vs no BN, on Fashion-MNIST padded to 32x32, lr 0.1 and
# 0.5, seeds 0-2. Each run is a `bnlandscape probe` (configs/paper_vgg/) probing every 117 steps
# (Figure 4's path measures, raw and layer-scaled top eigenvalue); then an offline probe of each
# final checkpoint for the SLQ density (configs/paper_vgg/density_probe.toml). Then
# summarize.py -> results.md, results.json and figures/.
#
# Runs are ordered seed by seed (an interrupted study already holds whole seeds); finished files
# are skipped and an interrupted run continues from its last checkpoint (common.sh's run_one).
# JOBS runs at a time (default 2, one thread each). BNL, PY, RUNS (default runs/paper_vgg), SEEDS
# (default "0 1 2"), LRS (default "0.1 0.5") as in the other studies.
source "$(dirname "$0")/../common.sh"
RUNS="${RUNS:-$ROOT/runs/paper_vgg}"
SEEDS="${SEEDS:-0 1 2}"
LRS="${LRS:-0.1 0.5}"
JOBS="${JOBS:-2}"
HERE="$ROOT/analyses/paper_vgg"
mkdir -p "$RUNS/density"

# density_one RUN OUT: the SLQ density at RUN's final checkpoint (the last one, which `probe
# --checkpoint` takes when no group is named). A diverged run has no final checkpoint: skipped.
density_one() {
  local run=$1 out=$2
  if finished "$out"; then echo "skip $out (already finished)"; return 0; fi
  if ! "$PY" -c "import h5py,sys; sys.exit(0 if h5py.File(sys.argv[1],'r').attrs['status']=='complete' else 1)" "$run"; then
    echo "skip $out ($run did not complete)"; return 0
  fi
  echo "run  probe (density) $run -> $out"
  "$BNL" probe --checkpoint "$run" --config "$ROOT/configs/paper_vgg/density_probe.toml" \
    --out "$out" --overwrite --quiet
}

# run_and_density CONFIG OUT LR SEED: the probed training run, then its final density.
run_and_density() {
  local config=$1 out=$2 lr=$3 seed=$4
  run_one probe "$config" "$out" --lr "$lr" --seed "$seed"
  density_one "$out" "$RUNS/density/$(basename "$out")"
}

t0=$SECONDS
for seed in $SEEDS; do
  for lr in $LRS; do
    for v in bn nobn; do
      in_pool "$JOBS" run_and_density "configs/paper_vgg/fashion_vgg_${v}.toml" \
        "$RUNS/fashion_vgg_${v}_lr${lr}_seed${seed}.h5" "$lr" "$seed"
    done
  done
done
drain_pool
echo "time runs: $((SECONDS - t0)) s"

# The long pair: seed 0 at lr 0.1, BN and no BN, continued to 8 epochs (1880 steps) from copies
# of the 2-epoch runs with `probe --resume --epochs 8` (identical to runs that asked for 8 epochs
# from the start): how long no BN takes to leave its plateau, and Figure 4 once both train.
# LONG=0 skips it.
if [[ "${LONG:-1}" == 1 && " $SEEDS " == *" 0 "* && " $LRS " == *" 0.1 "* ]]; then
  mkdir -p "$RUNS/long"
  for v in bn nobn; do
    src="$RUNS/fashion_vgg_${v}_lr0.1_seed0.h5" dst="$RUNS/long/fashion_vgg_${v}_lr0.1_seed0.h5"
    if finished "$dst" && "$PY" -c "import h5py,sys; sys.exit(0 if h5py.File(sys.argv[1],'r')['train/epochs/epoch'].size >= 8 else 1)" "$dst"; then
      echo "skip $dst (already 8 epochs)"; continue
    fi
    [[ -f "$dst" ]] || cp "$src" "$dst"
    in_pool "$JOBS" "$BNL" probe --resume "$dst" --epochs 8 --quiet
  done
  drain_pool
fi

"$PY" "$HERE/summarize.py" "$RUNS" --long "$RUNS/long" --out "$HERE/results.md" --json "$HERE/results.json" \
  --figures "$HERE/figures"
