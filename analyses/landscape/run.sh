#!/usr/bin/env bash
# Paper Figure 4 (loss landscape, gradient predictiveness, beta-smoothness), BN vs no BN, seeds
# 0-2, as one `bnlandscape sweep`; also the README's headline figures and compare table.
source "$(dirname "$0")/../common.sh"
RUNS="${RUNS:-$ROOT/runs/landscape}"
"$BNL" sweep --config "$ROOT/analyses/landscape/sweep.toml" --out "$RUNS" --jobs "${JOBS:-1}"
summary bn "$RUNS"/bn=*.h5
"$BNL" compare "$RUNS"/bn=*.h5 --group-by bn --format markdown > "$ROOT/analyses/landscape/compare.md"
figures "$ROOT/analyses/landscape/figures" "$RUNS"/bn=*.h5
# The interactive HTML report of the study (plots/report/): figures/report.html.
(cd "$ROOT" && BNL_BINARY="$BNL" "$PY" -m plots.report "$RUNS"/bn=*.h5 --out "$ROOT/analyses/landscape/figures/report.html")
