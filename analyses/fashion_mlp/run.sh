#!/usr/bin/env bash
# The original study's Fashion-MNIST MLP notebook (epoch and step level): BN vs no BN at lr 0.1
# (10 epochs) and lr 0.6 (15 epochs), replayed exactly.
source "$(dirname "$0")/../common.sh"
original_study fashion mlp
