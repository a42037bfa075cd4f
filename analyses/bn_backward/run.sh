#!/usr/bin/env bash
# --bn-backward original vs exact, same seeds: accuracy, gradient-norm spikes, and on the exact
# loss at the weights each reaches, beta-smoothness and lambda_max.
source "$(dirname "$0")/../common.sh"
RUNS="${RUNS:-$ROOT/runs/bn_backward}"
"$BNL" sweep --config "$ROOT/analyses/bn_backward/sweep.toml" --out "$RUNS" --jobs "${JOBS:-1}"
summary bn_backward "$RUNS"/bn_backward=*.h5
"$PY" "$ROOT/analyses/bn_backward/spikes.py" "$RUNS"/bn_backward=*.h5
figures "$ROOT/analyses/bn_backward/figures" "$RUNS"/bn_backward=*.h5
# The interactive HTML report of the study (plots/report/): figures/report.html.
(cd "$ROOT" && BNL_BINARY="$BNL" "$PY" -m plots.report "$RUNS"/bn_backward=*.h5 --group-by bn_backward --out "$ROOT/analyses/bn_backward/figures/report.html")
