#!/usr/bin/env bash
# The original study's Fashion-MNIST CNN (ConvMLP) notebook (epoch and step level): BN vs no BN
# at lr 0.1 and 0.6, replayed exactly.
source "$(dirname "$0")/../common.sh"
original_study fashion cnn
