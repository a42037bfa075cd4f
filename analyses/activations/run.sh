#!/usr/bin/env bash
# The original study's activation-distribution notebook: MLP and CNN with and without BN on
# Fashion-MNIST, lr 0.1, 3 epochs, snapshots of every hidden layer every 20 steps.
source "$(dirname "$0")/../common.sh"
RUNS="${RUNS:-$ROOT/runs/activations}"
for arch in mlp cnn; do
  for v in none custom; do
    run_one train configs/activations/fashion_${arch}_$v.toml "$RUNS/fashion_${arch}_$v.h5"
  done
done
summary bn "$RUNS"/fashion_mlp_*.h5
summary bn "$RUNS"/fashion_cnn_*.h5
figures "$ROOT/analyses/activations/figures" "$RUNS"/*.h5
# The interactive HTML reports of the study (plots/report/), one per architecture as the tables:
# figures/report_mlp.html, figures/report_cnn.html.
for arch in mlp cnn; do
  (cd "$ROOT" && BNL_BINARY="$BNL" "$PY" -m plots.report "$RUNS"/fashion_${arch}_*.h5 --out "$ROOT/analyses/activations/figures/report_$arch.html")
done
