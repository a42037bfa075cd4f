# Shared by the analyses/*/run.sh scripts: where the binary and Debian's python are, running one
# configuration into a run file (skipped when that file already holds a finished run), and
# rendering figures.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BNL="${BNL:-$ROOT/build/bnlandscape}"
PY="${PY:-/usr/bin/python3}"
if [[ ! -x "$BNL" ]]; then
  echo "analyses: $BNL not found; build first: bash scripts/build.sh" >&2
  exit 2
fi

# finished FILE: true when FILE is a run file whose status is complete or diverged.
finished() {
  [[ -f "$1" ]] && "$PY" - "$1" <<'PYEOF' 2>/dev/null
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    sys.exit(0 if f.attrs.get("status") in ("complete", "diverged") else 1)
PYEOF
}

# run_one SUBCOMMAND CONFIG OUT [extra flags...]: runs unless OUT is already finished. An OUT left
# unfinished by an interrupted study (Ctrl-C, kill, power loss) is continued from its last
# checkpoint with `--resume` (same configuration, same numbers as an uninterrupted run); only a
# file that cannot be resumed (no checkpoint yet) is started again.
run_one() {
  local cmd=$1 config=$2 out=$3
  shift 3
  if finished "$out"; then
    echo "skip $out (already finished)"
    return 0
  fi
  mkdir -p "$(dirname "$out")"
  local rc=0
  if [[ -f "$out" ]]; then
    echo "resume $cmd --resume $out"
    "$BNL" "$cmd" --resume "$out" --quiet || rc=$?
    if [[ $rc -eq 0 || $rc -eq 3 ]]; then return 0; fi
    echo "analyses: $out could not be resumed (exit $rc); starting it again" >&2
    rc=0
  fi
  echo "run  $cmd --config $config $* --out $out"
  "$BNL" "$cmd" --config "$ROOT/$config" "$@" --out "$out" --overwrite --quiet || rc=$?
  # 3 = diverged: a result, not a failure.
  if [[ $rc -ne 0 && $rc -ne 3 ]]; then
    echo "analyses: $out failed with exit code $rc" >&2
    return $rc
  fi
}

# in_pool JOBS CMD...: runs CMD in the background, first waiting while JOBS commands started by
# in_pool still run; `drain_pool` waits for all of them and fails if any failed. Independent runs
# with --threads 1 each use the cores better than one run at a time with 2 threads (small
# matrices), and each run's numbers depend on its own thread count only.
POOL_FAILED=0
in_pool() {
  local jobs=$1
  shift
  while (( $(jobs -rp | wc -l) >= jobs )); do wait -n || POOL_FAILED=1; done
  "$@" &
}
drain_pool() {
  while (( $(jobs -rp | wc -l) > 0 )); do wait -n || POOL_FAILED=1; done
  if (( POOL_FAILED )); then echo "analyses: some runs failed (see above)" >&2; return 1; fi
}

# figures OUTDIR RUN.h5...: every figure plots/make_all.py can render from these runs.
figures() {
  local out=$1
  shift
  mkdir -p "$out"
  "$PY" "$ROOT/plots/make_all.py" "$@" --out "$out"
}

# summary RUN.h5...: the compare table of these runs, grouped by the given key.
summary() {
  local key=$1
  shift
  "$BNL" compare "$@" --group-by "$key"
}

# require_cifar10: CIFAR_DIR (default data/cifar10) must hold a CIFAR-10 copy; else says how to
# get one and exits 2. CIFAR-10 cannot be bundled; it is downloaded once by the user.
require_cifar10() {
  CIFAR_DIR="${CIFAR_DIR:-$ROOT/data/cifar10}"
  local d
  for d in "$CIFAR_DIR/cifar-10-batches-bin/test_batch.bin" "$CIFAR_DIR/cifar-10-batches-py/test_batch" \
           "$CIFAR_DIR/test_batch.bin" "$CIFAR_DIR/test_batch"; do
    [[ -f "$d" ]] && return 0
  done
  echo "analyses: CIFAR-10 not found under $CIFAR_DIR." >&2
  echo "  Download it once (needs internet, 163 MB, checksum verified): bash data/download_cifar10.sh $CIFAR_DIR" >&2
  echo "  or point CIFAR_DIR at an existing copy (cifar-10-batches-bin/ or cifar-10-batches-py/)." >&2
  exit 2
}

# original_study DATASET ARCH: the original study's notebook for DATASET (fashion | cifar10) x
# ARCH (mlp | cnn), analyses/DATASET_ARCH/: its four runs
# (configs/original/, BN and no BN at lr 0.1 and 0.6, replaying its BatchNorm gradient and batch
# statistics in evaluation), each run's step-level and epoch-level figures with BN and no BN
# overlaid per learning rate, and the compare table.
original_study() {
  local dataset=$1 arch=$2
  local name="${dataset}_${arch}"
  local runs="${RUNS:-$ROOT/runs/original}"
  local extra=()
  if [[ "$dataset" == cifar10 ]]; then extra=(--data-dir "$CIFAR_DIR"); fi
  local lr v
  for lr in 0.1 0.6; do
    for v in nobn bn; do
      run_one train "configs/original/${name}_${v}_lr${lr}.toml" "$runs/${name}_${v}_lr${lr}.h5" "${extra[@]}"
    done
  done
  for lr in 0.1 0.6; do
    summary bn "$runs/${name}_nobn_lr${lr}.h5" "$runs/${name}_bn_lr${lr}.h5"
    figures "$ROOT/analyses/$name/figures/lr$lr" "$runs/${name}_nobn_lr${lr}.h5" "$runs/${name}_bn_lr${lr}.h5"
  done
}
