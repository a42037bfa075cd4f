#!/usr/bin/env bash
# The original study's Fashion-MNIST MLP notebook (epoch and step level): BN vs no BN at lr 0.1
# (10 epochs) and lr 0.6 (15 epochs), replayed exactly.
source "$(dirname "$0")/../common.sh"
original_study fashion mlp
# The interactive HTML reports of the study (plots/report/), one per learning rate as the figures:
# figures/lr0.1/report.html, figures/lr0.6/report.html.
for lr in 0.1 0.6; do
  (cd "$ROOT" && BNL_BINARY="$BNL" "$PY" -m plots.report "${RUNS:-$ROOT/runs/original}"/fashion_mlp_{nobn,bn}_lr$lr.h5 --out "$ROOT/analyses/fashion_mlp/figures/lr$lr/report.html")
done
