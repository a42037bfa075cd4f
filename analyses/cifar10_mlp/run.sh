#!/usr/bin/env bash
# The original study's CIFAR-10 MLP notebook (epoch and step level): BN vs no BN at lr 0.1 and
# 0.6, replayed exactly. Needs CIFAR-10 (see README.md); fails with how to get it otherwise.
source "$(dirname "$0")/../common.sh"
require_cifar10
original_study cifar10 mlp
