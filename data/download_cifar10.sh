#!/usr/bin/env bash
# Downloads CIFAR-10 (binary and python versions) from the authors' site, checks the published
# MD5 sums and unpacks them, giving the layout that bnlandscape looks for (dataset cifar10):
#   <dir>/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin
#   <dir>/cifar-10-batches-py/{data_batch_1..5,test_batch}
#
# Usage: data/download_cifar10.sh [target-dir]      (default: ./data/cifar10)
# Needs curl or wget, md5sum and tar. Safe to re-run: verified archives are not fetched again.

set -euo pipefail

readonly BASE_URL="https://www.cs.toronto.edu/~kriz"
readonly ARCHIVES=(
  "cifar-10-binary.tar.gz c32a1d4ab5d03f1284b67883e8d87530 cifar-10-batches-bin"
  "cifar-10-python.tar.gz c58f30108f718f92721af3b95e74349a cifar-10-batches-py"
)

usage() {
  sed -n '2,8s/^# \{0,1\}//p' "$0"
}

die() {
  echo "download_cifar10.sh: $*" >&2
  exit 1
}

fetch() {
  local url="$1" out="$2"
  if command -v curl >/dev/null 2>&1; then
    curl --fail --location --retry 3 --output "$out" "$url"
  elif command -v wget >/dev/null 2>&1; then
    wget --tries=3 --output-document="$out" "$url"
  else
    die "neither curl nor wget is installed"
  fi
}

md5_ok() {
  local file="$1" expected="$2"
  [[ -f "$file" ]] || return 1
  local actual
  actual="$(md5sum "$file" | cut -d' ' -f1)"
  [[ "$actual" == "$expected" ]]
}

main() {
  if [[ $# -gt 1 || "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    usage
    [[ $# -gt 1 ]] && exit 2
    exit 0
  fi
  local dir="${1:-./data/cifar10}"
  command -v md5sum >/dev/null 2>&1 || die "md5sum is not installed"
  command -v tar >/dev/null 2>&1 || die "tar is not installed"
  mkdir -p "$dir"

  local entry name md5 subdir archive
  for entry in "${ARCHIVES[@]}"; do
    read -r name md5 subdir <<<"$entry"
    archive="$dir/$name"
    if md5_ok "$archive" "$md5"; then
      echo "$archive: already downloaded, MD5 ok"
    else
      echo "downloading $BASE_URL/$name -> $archive"
      # A partial file never takes the final name, so an interrupted run is simply re-run.
      fetch "$BASE_URL/$name" "$archive.part" || die "download of $BASE_URL/$name failed"
      mv -f "$archive.part" "$archive"
      if ! md5_ok "$archive" "$md5"; then
        local got
        got="$(md5sum "$archive" | cut -d' ' -f1)"
        rm -f "$archive"
        die "$archive: expected MD5 $md5, got $got (removed it; re-run to download again)"
      fi
      echo "$archive: MD5 ok"
    fi
    tar -xzf "$archive" -C "$dir"
    [[ -d "$dir/$subdir" ]] || die "$archive did not unpack to $dir/$subdir"
    echo "unpacked $dir/$subdir"
  done
  echo "CIFAR-10 is ready in $dir"
}

main "$@"
