#!/usr/bin/env bash
# Cost of atomic run-file commits (docs/crash_safety.md) on training throughput, side by side:
# OLD and NEW bnlandscape binaries train the same Fashion-MNIST MLP (784-512-256-128-10, batch
# 128, 1 epoch) alternately, REPS times each, with the default flushes (every 50 steps) and
# with a checkpoint every 25 steps (a file that grows to ~40 MB, so commits get expensive).
# Prints the median training time of each (sum of /train/epochs/wall_time), NEW/OLD, and, steadier
# on a busy host, the share of NEW's training time spent in commits (root attribute
# io_commit_seconds, measured inside the process) with the bytes written per commit.
#   bash bench/run_commit_bench.sh OLD_BINARY NEW_BINARY [REPS]
set -euo pipefail
old=$1; new=$2; reps=${3:-5}
dir=$(mktemp -d /tmp/bnl_commit_bench_XXXXXX)
trap 'rm -rf "$dir"' EXIT
args="train --dataset fashion-mnist --epochs 1 --hidden-dims 512,256,128 --quiet --overwrite"
for variant in "none|" "custom|" "none|--checkpoint-every 25" "custom|--checkpoint-every 25"; do
  bn=${variant%%|*}; extra=${variant#*|}
  for i in $(seq "$reps"); do
    for which in old new; do
      bin=$old; [ "$which" = new ] && bin=$new
      $bin $args --bn "$bn" $extra --out "$dir/$which.h5"
      /usr/bin/python3 -c "import h5py,sys; f=h5py.File('$dir/$which.h5','r'); a=f.attrs; print('$which', f['train/epochs/wall_time'][:].sum(), a.get('io_commit_seconds', 0), a.get('io_commits', 0), a.get('io_commit_bytes', 0), len(f))" >> "$dir/times_${bn}_${extra// /_}"
    done
  done
  /usr/bin/python3 - "$dir/times_${bn}_${extra// /_}" "$bn" "$extra" <<'PY'
import sys, statistics
t = {"old": [], "new": []}
share, per = [], []
for line in open(sys.argv[1]):
    w, s, cs, nc, nb, _ = line.split()
    t[w].append(float(s))
    if w == "new" and float(nc) > 0:
        share.append(float(cs) / float(s))
        per.append((float(cs) / float(nc), float(nb) / float(nc)))
o, n = statistics.median(t["old"]), statistics.median(t["new"])
print("bn %-6s %-22s old %.3f s  new %.3f s  new/old %.3f  (runs: old %s, new %s)" % (
    sys.argv[2], sys.argv[3] or "(default flushes)", o, n, n / o,
    " ".join("%.3f" % v for v in t["old"]), " ".join("%.3f" % v for v in t["new"])))
if share:
    print("    new: commits take %.2f%% of the training time (median; runs %s), %.2f ms and %.2f MB per commit" % (
        100 * statistics.median(share), " ".join("%.2f%%" % (100 * v) for v in share),
        1e3 * statistics.median(p[0] for p in per), statistics.median(p[1] for p in per) / 1e6))
PY
done
