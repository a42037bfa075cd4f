#!/usr/bin/env bash
# Wall time of `probe --step-interval 50` (default options: top-1 Lanczos, the current batch, the
# gradient path, probes beside training) over `train` on the main job (Fashion-MNIST MLP with our
# BN, 3 epochs); also with the probes in the training thread (--overlap=false) and with autograd's
# Hessian-vector products; REPS rounds taken alternately, each run a fresh process.
#   bash bench/run_probe_overhead.sh [REPS=3] [EPOCHS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-3}
EPOCHS=${2:-3}
BNL=${BNL:-build/bnlandscape}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cfg=configs/main/fashion_mlp_bn.toml
# train rejects probe keys: the same settings without step_interval.
grep -v '^step_interval' "$cfg" > "$tmp/train.toml"
wall() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'; }
echo "round,train_s,probe_s,probe_no_overlap_s,probe_autograd_s,load1"
for r in $(seq 1 "$REPS"); do
  load=$(cut -d' ' -f1 /proc/loadavg)
  t=$(wall "$BNL" train --config "$tmp/train.toml" --epochs "$EPOCHS" --out "$tmp/t.h5" --overwrite --quiet)
  a=$(wall "$BNL" probe --config "$cfg" --epochs "$EPOCHS" --out "$tmp/a.h5" --overwrite --quiet)
  s=$(wall "$BNL" probe --config "$cfg" --epochs "$EPOCHS" --out "$tmp/s.h5" --overwrite --quiet --overlap=false)
  g=$(wall "$BNL" probe --config "$cfg" --epochs "$EPOCHS" --out "$tmp/g.h5" --overwrite --quiet --hvp-engine autograd)
  echo "$r,$t,$a,$s,$g,$load"
done
/usr/bin/python3 - "$tmp/a.h5" "$tmp/s.h5" "$tmp/g.h5" <<'PY'
import sys, h5py
for path in sys.argv[1:]:
    with h5py.File(path, "r") as f:
        p = f["probes"]
        print("%s, overlap %d, BLAS threads %d: %d probes, %.2f s in probes (sum of /probes/seconds), %d HVPs, "
              "last step at %.2f s" % (p.attrs["hvp_engine"], p.attrs["overlap"], f.attrs["blas_threads"],
                                       len(p["step"]), p["seconds"][()].sum(), p["hvp_count"][()].sum(),
                                       f["train/steps/wall_time"][-1]))
PY
