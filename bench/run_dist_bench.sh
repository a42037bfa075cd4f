#!/usr/bin/env bash
# Full-set lambda_max (top-1, tol 1e-3) of the Fashion-MNIST MLP (784-512-256-128-10, our BN)
# on a fixed probe set of 4096 examples in micro-batches of 128, after one epoch of training:
# wall time on 1 process and on 2 (`launch --nproc 2`), 1 intra-op thread each, and the
# all-reduce share. Prints a markdown table; REPS repeats, median.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BNL="${BNL:-$ROOT/build/bnlandscape}"
PY="${PY:-/usr/bin/python3}"
REPS="${REPS:-3}"
WORK="${WORK:-$(mktemp -d /tmp/bnl_dist_bench.XXXXXX)}"
mkdir -p "$WORK"
CK="$WORK/checkpoint.h5"
if [[ ! -f "$CK" ]]; then
  "$BNL" train --dataset fashion-mnist --bn custom --epochs 1 --checkpoint-every 469 --quiet --out "$CK"
fi
PROBE=(probe --checkpoint "$CK" --checkpoint-group /checkpoints/step_0000469 --probe-batch fixed --probe-size 4096
       --probe-microbatch 128 --top-k 1 --tol 1e-3 --quiet)

run() {  # run LABEL OUT ARGS... : prints "label wall probe_seconds allreduce_seconds hvps lambda"
  local label=$1 out=$2
  shift 2
  rm -f "$out"
  local t0 t1
  t0=$(date +%s.%N)
  "$@" --out "$out"
  t1=$(date +%s.%N)
  "$PY" - "$out" "$label" "$t0" "$t1" <<'PYEOF'
import sys, h5py
f = h5py.File(sys.argv[1], "r")["probes"]
print(sys.argv[2], float(sys.argv[4]) - float(sys.argv[3]), f["seconds"][0], f["allreduce_seconds"][0],
      f["hvp_count"][0], f["eigvals"][0, 0])
PYEOF
}

{
  for rep in $(seq "$REPS"); do
    run "1 process, 1 thread" "$WORK/p1.h5" "$BNL" "${PROBE[@]}" --threads 1
    run "2 processes, 1 thread each" "$WORK/p2.h5" "$BNL" launch --nproc 2 -- "${PROBE[@]}" --threads 1
    run "1 process, 2 threads" "$WORK/p1t2.h5" "$BNL" "${PROBE[@]}" --threads 2
  done
} | tee "$WORK/raw.txt" >&2

"$PY" - "$WORK/raw.txt" <<'PYEOF'
import sys, statistics as st
rows = {}
for line in open(sys.argv[1]):
    *label, wall, probe, ar, hvp, lam = line.split()
    rows.setdefault(" ".join(label), []).append((float(wall), float(probe), float(ar), int(float(hvp)), float(lam)))
base = st.median(r[1] for r in rows["1 process, 1 thread"])
print("| setting | probe s (median) | ratio vs 1 process | all-reduce share | process wall s | HVPs | lambda_max |")
print("|---|---:|---:|---:|---:|---:|---:|")
for label, rs in rows.items():
    probe = st.median(r[1] for r in rs)
    share = st.median(r[2] / r[1] for r in rs)
    print(f"| {label} | {probe:.2f} | {probe / base:.2f} | {share:.1%} | {st.median(r[0] for r in rs):.2f} | "
          f"{rs[0][3]} | {rs[0][4]:.4f} |")
PYEOF
