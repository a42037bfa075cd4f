#!/usr/bin/env bash
# Cost of the default checkpoint policy (issue 28: a checkpoint every epoch and every
# --checkpoint-minutes): BINARY trains the Fashion-MNIST MLP (784-512-256-128-10, our BN, batch
# 128, 2 epochs) REPS times each with --checkpoint-every 0 (the end only), the default, and a
# checkpoint every 10 steps (to measure one checkpoint's cost from many), interleaved. Prints per
# variant the median training time (sum of /train/epochs/wall_time), the median epoch, the
# checkpoints, the file size and the time in commits; then one checkpoint's cost as the extra
# training time per extra checkpoint of the every-10 variant.
#   bash bench/run_checkpoint_bench.sh BINARY [REPS]
set -euo pipefail
bin=$1; reps=${2:-3}
dir=$(mktemp -d /tmp/bnl_checkpoint_bench_XXXXXX)
trap 'rm -rf "$dir"' EXIT
args="train --dataset fashion-mnist --epochs 2 --bn custom --quiet --overwrite"
for i in $(seq "$reps"); do
  for variant in end default every10; do
    case $variant in end) extra="--checkpoint-every 0";; default) extra="";; every10) extra="--checkpoint-every 10";; esac
    $bin $args $extra --out "$dir/$variant.h5"
    /usr/bin/python3 -c "import h5py, os; f=h5py.File('$dir/$variant.h5','r'); w=f['train/epochs/wall_time'][:]; print('$variant', w.sum(), w.mean(), len(f['checkpoints']), os.path.getsize('$dir/$variant.h5'), f.attrs['io_commit_seconds'])" >> "$dir/times"
  done
done
/usr/bin/python3 - "$dir/times" <<'PY'
import sys, statistics as st
rows = {}
for line in open(sys.argv[1]):
    v, *x = line.split()
    rows.setdefault(v, []).append([float(a) for a in x])
med = {v: [st.median(r[i] for r in rs) for i in range(5)] for v, rs in rows.items()}
for v, (t, e, n, size, commit) in med.items():
    print("%-8s training %.2f s (runs %s), epoch %.2f s, %d checkpoints, file %.1f MB, commits %.2f s" % (
        v, t, " ".join("%.2f" % r[0] for r in rows[v]), e, n, size / 1e6, commit))
t0, n0 = med["end"][0], med["end"][2]
t10, n10 = med["every10"][0], med["every10"][2]
print("one checkpoint: %.1f ms of training time, %.2f MB of file (every-10 vs end only)" % (
    1e3 * (t10 - t0) / (n10 - n0), (med["every10"][3] - med["end"][3]) / (n10 - n0) / 1e6))
print("default vs end only: %+.2f%% training time, %+.1f MB" % (
    100 * (med["default"][0] / t0 - 1), (med["default"][3] - med["end"][3]) / 1e6))
PY
