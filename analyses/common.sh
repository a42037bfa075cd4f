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

# run_one SUBCOMMAND CONFIG OUT [extra flags...]: runs unless OUT is already finished.
run_one() {
  local cmd=$1 config=$2 out=$3
  shift 3
  if finished "$out"; then
    echo "skip $out (already finished)"
    return 0
  fi
  mkdir -p "$(dirname "$out")"
  echo "run  $cmd --config $config $* --out $out"
  local rc=0
  "$BNL" "$cmd" --config "$ROOT/$config" "$@" --out "$out" --overwrite --quiet || rc=$?
  # 3 = diverged: a result, not a failure.
  if [[ $rc -ne 0 && $rc -ne 3 ]]; then
    echo "analyses: $out failed with exit code $rc" >&2
    return $rc
  fi
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
