#!/usr/bin/env bash
# Paper section 2, Figure 2: does BN still help when its output distribution is made unstable on
# purpose? Standard vs BN vs noisy BN, Fashion-MNIST MLP, lr 0.1, 3 epochs, seeds 0-2.
source "$(dirname "$0")/../common.sh"
RUNS="${RUNS:-$ROOT/runs/noisy_bn}"
for seed in 0 1 2; do
  for v in standard bn noisy; do
    run_one train configs/paper/noisy_bn_$v.toml "$RUNS/${v}_seed$seed.h5" --seed $seed
  done
done
summary bn_noise "$RUNS"/bn_seed*.h5 "$RUNS"/noisy_seed*.h5
summary bn "$RUNS"/standard_seed*.h5 "$RUNS"/bn_seed*.h5
figures "$ROOT/analyses/noisy_bn/figures" "$RUNS"/*.h5
# The interactive HTML reports of the study (plots/report/), compared as the two tables above:
# figures/report.html (BN vs noisy BN) and figures/report_standard.html (no BN vs BN).
(cd "$ROOT" && BNL_BINARY="$BNL" "$PY" -m plots.report "$RUNS"/bn_seed*.h5 "$RUNS"/noisy_seed*.h5 --group-by bn_noise --out "$ROOT/analyses/noisy_bn/figures/report.html")
(cd "$ROOT" && BNL_BINARY="$BNL" "$PY" -m plots.report "$RUNS"/standard_seed*.h5 "$RUNS"/bn_seed*.h5 --out "$ROOT/analyses/noisy_bn/figures/report_standard.html")
