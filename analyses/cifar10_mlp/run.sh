#!/usr/bin/env bash
# The original study's CIFAR-10 MLP notebook (epoch and step level): BN vs no BN at lr 0.1 and
# 0.6, replayed exactly. Needs CIFAR-10 (see README.md); fails with how to get it otherwise.
source "$(dirname "$0")/../common.sh"
require_cifar10
original_study cifar10 mlp
# The interactive HTML reports of the study (plots/report/), one per learning rate as the figures:
# figures/lr0.1/report.html, figures/lr0.6/report.html.
for lr in 0.1 0.6; do
  (cd "$ROOT" && BNL_BINARY="$BNL" "$PY" -m plots.report "${RUNS:-$ROOT/runs/original}"/cifar10_mlp_{nobn,bn}_lr$lr.h5 --out "$ROOT/analyses/cifar10_mlp/figures/lr$lr/report.html")
done
