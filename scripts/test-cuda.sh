#!/usr/bin/env bash
# Builds bnlandscape against a CUDA-enabled libtorch (by default the one of the first python3's
# torch; TORCH_PREFIX overrides) in build-cuda/ and runs the tests that need a GPU. They are
# compiled into every build and skip themselves (reported as skipped) where libtorch has no CUDA
# or no GPU is present, as on the Debian CPU build.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${TORCH_PREFIX:-$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')}
cmake -S . -B build-cuda -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix"
cmake --build build-cuda -j"$(nproc)" --target bnlandscape train_tests cli_tests
build-cuda/tests/train_tests --gtest_filter='Device*'
