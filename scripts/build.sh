#!/usr/bin/env bash
# Configures and builds bnlandscape (Release) in ./build.
# Usage: scripts/build.sh [TARGET]   (default: everything, test executables included;
#                                     scripts/main-job.sh builds only `bnlandscape`)
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
if [[ $# -gt 0 ]]; then
  cmake --build build -j"$(nproc)" --target "$1"
else
  cmake --build build -j"$(nproc)"
fi
