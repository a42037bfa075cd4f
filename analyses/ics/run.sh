#!/usr/bin/env bash
# Paper Figure 3: is internal covariate shift (Definition 2.1) smaller with BN? Standard vs BN,
# Fashion-MNIST MLP, lr 0.1, 3 epochs, ICS every 20 steps, seeds 0-2.
source "$(dirname "$0")/../common.sh"
RUNS="${RUNS:-$ROOT/runs/ics}"
for seed in 0 1 2; do
  for v in standard bn; do
    run_one train configs/paper/ics_$v.toml "$RUNS/${v}_seed$seed.h5" --seed $seed
  done
done
summary bn "$RUNS"/*.h5
figures "$ROOT/analyses/ics/figures" "$RUNS"/*.h5
# The interactive HTML report of the study (plots/report/): figures/report.html.
(cd "$ROOT" && BNL_BINARY="$BNL" "$PY" -m plots.report "$RUNS"/*.h5 --out "$ROOT/analyses/ics/figures/report.html")
