#!/usr/bin/env bash
# Hessian spectrum with and without BN (issue 17 section 4; Ghorbani, Krishnan, Xiao 2019): the
# Fashion-MNIST MLP and ConvMLP, no BN vs our BN, seeds 0-2. Each run is a `bnlandscape probe`
# (configs/spectrum/) that probes at the start, middle and end of training: top Hessian
# eigenvalues, the SLQ eigenvalue density (/density), and (MLP) each layer's diagonal-block
# lambda_max (/probes/layer_eigvals). Then, per run, on the final checkpoint: a 2-D
# filter-random loss surface (`bnlandscape surface`) and (ConvMLP only, where a Hessian-vector
# product is ~10x dearer) the per-layer lambda_max as one offline probe. Finally the tables
# (summarize.py -> results.md) and the figures (plots/make_all.py -> figures/, PNG only).
#
# Runs are ordered seed by seed, so an interrupted study already holds whole seeds; finished run
# files are skipped, so rerunning resumes. BNL (binary), RUNS (default runs/spectrum), PY,
# SEEDS (default "0 1 2") as in the other studies.
source "$(dirname "$0")/../common.sh"
RUNS="${RUNS:-$ROOT/runs/spectrum}"
SEEDS="${SEEDS:-0 1 2}"
HERE="$ROOT/analyses/spectrum"
mkdir -p "$RUNS"

# last_checkpoint FILE: the group of FILE's newest checkpoint (by its step attribute).
last_checkpoint() {
  "$PY" - "$1" <<'PYEOF'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    c = f["checkpoints"]
    print("/checkpoints/" + max(c, key=lambda k: int(c[k].attrs["step"])))
PYEOF
}

# timed LABEL CMD...: runs CMD and prints how long it took (the README's run times).
timed() {
  local label=$1 t0=$SECONDS
  shift
  "$@"
  echo "time $label: $((SECONDS - t0)) s"
}

# surface_one RUN OUT ARCH BN SEED RESOLUTION SIZE: the 2-D filter-random surface around RUN's
# final checkpoint, alpha and beta in [-1, 1], on the first SIZE test examples (one BN batch,
# batch statistics as in the probes); directions seeded by the run's seed.
surface_one() {
  local run=$1 out=$2 arch=$3 bn=$4 seed=$5 res=$6 size=$7
  if finished "$out"; then echo "skip $out (already finished)"; return 0; fi
  local group
  group=$(last_checkpoint "$run")
  mkdir -p "$(dirname "$out")"
  echo "run  surface $run $group -> $out"
  "$BNL" surface --checkpoint "$run" --checkpoint-group "$group" --dataset fashion-mnist \
    --arch "$arch" --hidden-dims 512,256,128 --conv-channels 32,64 --bn "$bn" \
    --directions filter-random --dims 2 --range=-1,1 --resolution "$res" \
    --surface-set test --surface-size "$size" --surface-batch "$size" --seed "$seed" \
    --threads 2 --out "$out" --overwrite --quiet
}

# layers_one RUN OUT CONFIG SEED: ConvMLP only: per-layer lambda_max (top eigenvalue of each
# Linear/Conv/norm block's diagonal Hessian block) and the top eigenvalue, on RUN's final
# checkpoint, same fixed probe set as in training (first 128 training examples). The seed only
# seeds Lanczos's start vectors here (summarize.py takes the training seed from RUN).
layers_one() {
  local run=$1 out=$2 config=$3 seed=$4
  if finished "$out"; then echo "skip $out (already finished)"; return 0; fi
  local group
  group=$(last_checkpoint "$run")
  mkdir -p "$(dirname "$out")"
  echo "run  probe (layers) $run $group -> $out"
  "$BNL" probe --config "$ROOT/$config" --checkpoint "$run" --checkpoint-group "$group" \
    --density-runs 0 --density-steps 0 --top-k 1 --layer-top-k 1 --seed "$seed" \
    --out "$out" --overwrite --quiet
}

for seed in $SEEDS; do
  for arch in mlp cnn; do
    for v in nobn bn; do
      bn=$([[ $v == bn ]] && echo custom || echo none)
      name="fashion_${arch}_${v}_seed${seed}"
      config="configs/spectrum/fashion_${arch}_${v}.toml"
      timed "$name probe" run_one probe "$config" "$RUNS/$name.h5" --seed "$seed"
      if [[ $arch == mlp ]]; then
        timed "$name surface" surface_one "$RUNS/$name.h5" "$RUNS/surface/$name.h5" mlp "$bn" "$seed" 17 1000
      else
        timed "$name layers" layers_one "$RUNS/$name.h5" "$RUNS/layers/$name.h5" "$config" "$seed"
        timed "$name surface" surface_one "$RUNS/$name.h5" "$RUNS/surface/$name.h5" cnn "$bn" "$seed" 9 256
      fi
    done
  done
done

mkdir -p "$RUNS/surface" "$RUNS/layers" "$HERE/figures/cnn_layers"
"$PY" "$HERE/summarize.py" "$RUNS" --out "$HERE/results.md"
# Figures, PNG only: the spectrum family of the probe runs (lambda_max, top-3 (MLP), SLQ density
# at start/middle/end, MLP per-layer lambda_max); the ConvMLP's final-checkpoint per-layer probes
# as their own one-step set (figures/cnn_layers/); one figure per surface file and their alpha
# slices overlaid. The surface files get a call of their own: their configurations would
# otherwise join the probe runs' comparison sets.
"$PY" "$ROOT/plots/make_all.py" "$RUNS"/fashion_*.h5 --families spectrum \
  --out "$HERE/figures" --formats png --quiet
"$PY" "$ROOT/plots/make_all.py" "$RUNS"/layers/fashion_*.h5 --families spectrum \
  --out "$HERE/figures/cnn_layers" --formats png --quiet
"$PY" "$ROOT/plots/make_all.py" "$RUNS"/surface/fashion_*.h5 --families surface \
  --out "$HERE/figures" --formats png --quiet
# The interactive HTML reports of the study (plots/report/), one per architecture: its probe runs
# and surfaces (figures/report_mlp.html, figures/report_cnn.html).
for arch in mlp cnn; do
  (cd "$ROOT" && BNL_BINARY="$BNL" "$PY" -m plots.report "$RUNS"/fashion_${arch}_*.h5 "$RUNS"/surface/fashion_${arch}_*.h5 \
    --out "$HERE/figures/report_$arch.html")
done
