#!/usr/bin/env bash
# Loss-surface benchmark (issue 17): a 51x51 `bnlandscape surface` on the 10,000 Fashion-MNIST
# test examples of the study's MLP (784-512-256-128-10, BN custom, one epoch of training), its
# wall time and examples/s, against the forward-only throughput of `train`'s own evaluation of
# the same test set (evaluation mode, batch 128), measured here as the time an epoch of a single
# training step takes beyond that step: /train/epochs/wall_time - /train/steps/wall_time[-1].
# Prints a Markdown block for bench/RESULTS.md. About 6-10 minutes on 2 idle cores.
#
#   bench/run_surface_bench.sh [resolution, default 51] [surface batch, default 1024]
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x build/bnlandscape ]] || { echo "missing build/bnlandscape" >&2; exit 1; }
res=${1:-51}
batch=${2:-1024}
tmp=$(mktemp -d /tmp/bnl_surface_bench_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
B=build/bnlandscape
echo "uptime before: $(uptime)" >&2

$B train --dataset fashion-mnist --arch mlp --bn custom --epochs 1 --quiet --out "$tmp/mlp.h5"

evals=()
for rep in 1 2 3; do
  $B train --dataset fashion-mnist --arch mlp --bn custom --epochs 1 --train-subset 128 --seed "$rep" \
    --quiet --out "$tmp/eval$rep.h5"
  evals+=("$(/usr/bin/python3 - "$tmp/eval$rep.h5" <<'EOF'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
print(f["train/epochs/wall_time"][0] - f["train/steps/wall_time"][-1])
EOF
)")
done

start=$(date +%s.%N)
$B surface --checkpoint "$tmp/mlp.h5" --checkpoint-group /checkpoints/step_0000469 --surface-set test \
  --surface-size 10000 --probe-bn-mode eval --resolution "$res" --surface-batch "$batch" --quiet --out "$tmp/s.h5"
end=$(date +%s.%N)
echo "uptime after: $(uptime)" >&2

/usr/bin/python3 - "$tmp/s.h5" "$start" "$end" "$res" "$batch" "${evals[@]}" <<'EOF'
import sys, h5py, numpy as np
path, start, end, res, batch = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
evals = sorted(float(x) for x in sys.argv[6:])
f = h5py.File(path, "r")
g = f["surface"]
loss = g["loss"][()]
eps = g.attrs["examples_per_second"]
eval_eps = 10000 / evals[len(evals) // 2]
print(f"| grid | examples | surface wall (s, process) | grid evaluation (s) | surface examples/s | train evaluation examples/s (median of 3) | ratio |")
print(f"|---|---:|---:|---:|---:|---:|---:|")
print(f"| {res}x{res} (batch {batch}, BN eval mode) | 10000 test | {end - start:.1f} | {g.attrs['seconds']:.1f} | "
      f"{eps:,.0f} | {eval_eps:,.0f} | {eps / eval_eps:.2f} |")
print(f"\nthreads (intra-op, BLAS) = ({f.attrs['intra_op_threads']}, {f.attrs['blas_threads']}); "
      f"train evaluation seconds per 10,000: {', '.join(f'{e:.3f}' for e in evals)}; "
      f"loss at the centre {loss[res // 2, res // 2]:.4f}, range {np.nanmin(loss):.4f}..{np.nanmax(loss):.4f}, "
      f"NaN cells {int(np.isnan(loss).sum())}")
EOF
