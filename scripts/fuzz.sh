#!/usr/bin/env bash
# Builds the libFuzzer harnesses of fuzz/ in build-fuzz (clang-14, ASan + UBSan) and runs each
# on a fresh copy of its seed corpus. Installs nothing: needs clang-14 and libclang-rt-14-dev
# (apt-get install -y clang-14 libclang-rt-14-dev) and, for the checkpoint harness, the
# project's own libtorch and libhdf5 packages.
#
# Usage: scripts/fuzz.sh [SECONDS per harness, default 60] [HARNESS...]
#   HARNESS: idx cifar_binary cifar_python config checkpoint tensor_dataset (default: all of them)
# Environment: BNL_FUZZ_JOBS  build parallelism (default 1)
#              BNL_FUZZ_OUT   where corpora, logs and crash inputs go (default build-fuzz/runs)
#              BNL_FUZZ_CKPT_STRICT  see fuzz/checkpoint_fuzz.cpp (off by default)
# Exit status: 0 when every harness ran its time without a finding; 1 on any crash, timeout
# (-timeout=10 s per input), out-of-memory (-rss_limit_mb=2048) or broken invariant, with the
# reproducing input left in $BNL_FUZZ_OUT/<harness>/; 2 on a setup problem.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
[[ $# -gt 0 ]] && shift
if ! [[ $secs =~ ^[0-9]+$ ]] || (( secs < 1 )); then
  echo "usage: scripts/fuzz.sh [SECONDS per harness] [HARNESS...]" >&2
  exit 2
fi
all=(idx cifar_binary cifar_python config checkpoint tensor_dataset)
harnesses=("$@")
(( ${#harnesses[@]} )) || harnesses=("${all[@]}")
for h in "${harnesses[@]}"; do
  if [[ " ${all[*]} " != *" $h "* ]]; then
    echo "fuzz.sh: unknown harness '$h' (known: ${all[*]})" >&2
    exit 2
  fi
done

for tool in clang-14 clang++-14 cmake; do
  if ! command -v "$tool" >/dev/null; then
    echo "fuzz.sh: $tool not found (apt-get install -y clang-14 libclang-rt-14-dev cmake)" >&2
    exit 2
  fi
done
fuzzer_rt="/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a"
if ! compgen -G "$fuzzer_rt" >/dev/null; then
  echo "fuzz.sh: libFuzzer runtime missing (apt-get install -y libclang-rt-14-dev)" >&2
  exit 2
fi

build=build-fuzz
out=${BNL_FUZZ_OUT:-$build/runs}
ckpt=OFF
[[ " ${harnesses[*]} " == *" checkpoint "* ]] && ckpt=ON
cmake -S fuzz -B "$build" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_C_COMPILER=clang-14 \
  -DBNL_FUZZ_CHECKPOINT="$ckpt" >/dev/null
targets=()
for h in "${harnesses[@]}"; do targets+=("${h}_fuzz"); done
cmake --build "$build" -j"${BNL_FUZZ_JOBS:-1}" --target "${targets[@]}"

# Scratch files the harnesses write per input (fuzz/fuzz_util.h): in a directory of our own,
# in memory where possible, removed at the end even when a harness crashed.
scratch=$(mktemp -d /dev/shm/bnl-fuzz.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export BNL_FUZZ_TMPDIR=$scratch

failed=()
summary=()
for h in "${harnesses[@]}"; do
  dir=$out/$h
  rm -rf "$dir"
  mkdir -p "$dir"
  cp -r "fuzz/corpus/$h" "$dir/corpus"
  args=(-max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
        -artifact_prefix="$dir/")
  [[ -f fuzz/dict/$h.dict ]] && args+=(-dict="fuzz/dict/$h.dict")
  echo "== $h: ${secs}s, corpus $(ls "fuzz/corpus/$h" | wc -l) seeds, log $dir/log"
  rc=0
  "$build/${h}_fuzz" "${args[@]}" "$dir/corpus" >"$dir/log" 2>&1 || rc=$?
  crashes=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' \
            -o -name 'oom-*' -o -name 'leak-*' -o -name 'slow-unit-*' \) | wc -l)
  last=$(grep -E '^#[0-9]+' "$dir/log" | tail -n 1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -n 1)
  cov=$(sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) corp: \([^ ]*\) .*/cov \1, ft \2, corpus \3/p' \
        <<<"$last")
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$dir/log" | tail -n 1)
  line="$h: rc $rc, ${execs:-?} execs, ${rate:-?}/s, ${cov:-?}, peak rss ${rss:-?} MB"
  summary+=("$line")
  if (( rc != 0 || crashes > 0 )); then
    failed+=("$h")
    echo "   FAILED ($line); findings:" >&2
    grep -E 'ERROR|SUMMARY|invariant failed|runtime error' "$dir/log" | head -n 5 >&2 || true
    find "$dir" -maxdepth 1 -type f -name '*-*' ! -name log >&2
  fi
done

echo
echo "Summary (${secs}s per harness):"
printf '  %s\n' "${summary[@]}"
if (( ${#failed[@]} )); then
  echo "fuzz.sh: findings in: ${failed[*]} (inputs and logs under $out/)" >&2
  exit 1
fi
echo "fuzz.sh: no findings"
