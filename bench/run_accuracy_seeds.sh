#!/usr/bin/env bash
# One-epoch test accuracy of the no-BN Fashion-MNIST MLP at lr 0.1 over SEEDS seeds, bnlandscape
# against PyTorch in Python (bench/one_epoch_accuracy.py), 1 thread each: mean, sd, min and the
# share of seeds below 0.80 and 0.81, and the per-seed gap (the same seed gives both the same
# initial weights and batches).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BNL="${BNL:-$ROOT/build/bnlandscape}"
PY="${PY:-/usr/bin/python3}"
SEEDS="${SEEDS:-30}"
WORK="$(mktemp -d /tmp/bnl_acc.XXXXXX)"
"$PY" "$ROOT/bench/one_epoch_accuracy.py" 0 "$SEEDS" > "$WORK/python.txt" &
for s in $(seq 0 $((SEEDS - 1))); do
  "$BNL" train --dataset fashion-mnist --bn none --epochs 1 --seed "$s" --threads 1 --quiet --out "$WORK/s$s.h5"
done
wait
"$PY" - "$WORK" "$SEEDS" <<'PYEOF'
import sys, h5py, numpy as np
work, n = sys.argv[1], int(sys.argv[2])
ours = np.array([h5py.File(f"{work}/s{s}.h5", "r")["train/epochs/test_acc"][-1] for s in range(n)])
py = np.array([float(l.split()[1]) for l in open(f"{work}/python.txt") if l.strip()])
for name, a in (("bnlandscape", ours), ("PyTorch (Python)", py)):
    print(f"{name:<18} n={len(a)} mean {a.mean():.4f} sd {a.std(ddof=1):.4f} median {np.median(a):.4f} "
          f"min {a.min():.4f} <0.80: {np.mean(a < 0.80):.2f} <0.81: {np.mean(a < 0.81):.2f} seed 0: {a[0]:.4f}")
# Same seed, same initial weights and batches: the columns are the same runs up to rounding.
m = min(len(ours), len(py))
gap = np.abs(ours[:m] - py[:m])
split = [s for s in range(m) if (ours[s] < 0.80) != (py[s] < 0.80)]
print(f"paired over {m} seeds: |bnlandscape - PyTorch| median {np.median(gap):.4f} max {gap.max():.4f} "
      f"(seed {int(gap.argmax())}); correlation {np.corrcoef(ours[:m], py[:m])[0, 1]:.3f}; "
      f"seeds on different sides of 0.80: {split}")
PYEOF
