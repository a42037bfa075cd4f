#!/usr/bin/env bash
# Paper section 3.3: lp-normalisation (p = 1, 2, inf) against BN and no BN: accuracy and the
# landscape (beta-smoothness, gradient predictiveness, lambda_max) probed every 50 steps.
# Fashion-MNIST MLP, lr 0.1, 3 epochs, seeds 0-1.
source "$(dirname "$0")/../common.sh"
RUNS="${RUNS:-$ROOT/runs/lp_norm}"
for seed in 0 1; do
  for v in none custom lp1 lp2 lpinf; do
    run_one probe configs/paper/lp_$v.toml "$RUNS/${v}_seed$seed.h5" --seed $seed
  done
done
summary bn "$RUNS"/*.h5
figures "$ROOT/analyses/lp_norm/figures" "$RUNS"/*.h5
# The interactive HTML report of the study (plots/report/): figures/report.html.
(cd "$ROOT" && BNL_BINARY="$BNL" "$PY" -m plots.report "$RUNS"/*.h5 --out "$ROOT/analyses/lp_norm/figures/report.html")
