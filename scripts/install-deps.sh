#!/usr/bin/env bash
# Installs the Debian 12 packages bnlandscape needs, only those that are missing.
set -euo pipefail
pkgs=(cmake g++ make git pkg-config
      libtorch-dev libeigen3-dev libspectra-dev libhdf5-dev hdf5-tools libcli11-dev
      googletest libgtest-dev zlib1g-dev libgloo-dev libopenblas0-pthread
      dataset-fashion-mnist python3-h5py python3-matplotlib python3-numpy python3-torch python3-torchvision
      python3-plotly chromium
      clang-14 libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Without OpenBLAS libtorch falls back to the reference BLAS and trains ~20x slower.
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
case "$blas" in
  *openblas*) ;;
  *) echo "warning: libblas.so.3 resolves to '$blas', not OpenBLAS; run: update-alternatives --config libblas.so.3-x86_64-linux-gnu" >&2 ;;
esac
