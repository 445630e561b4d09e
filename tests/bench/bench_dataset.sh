#!/bin/bash
# bench_dataset.sh - full-frame datasets (make bench; figures, not pass/fail): synthetic
# HST ACS/WFC raw files (2 x 4144x2068) through `obsflow process` and through dataset jobs of
# one obsflowd, alone and several at once: times, their ratio, and peak RSS of both, on a
# private PostgreSQL cluster this script starts and stops (tests/bench/bench_dataset.py).
# Env: OBSFLOW_BIN_DIR, OBSFLOW_SOURCE_DIR, OBSFLOW_SHARED, BENCH_DATASET_COUNT.
set -euo pipefail
SRC=${OBSFLOW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${OBSFLOW_BIN_DIR:-$SRC/build}
SHARED=${OBSFLOW_SHARED:-$SRC/../shared}
for b in obsflowd obsflow; do
  [ -x "$BIN/$b" ] || { echo "bench_dataset: $BIN/$b is not built" >&2; exit 1; }
done
DIR=$(mktemp -d /tmp/obsd.XXXXXX)
chmod 755 "$DIR"
cleanup() {
  "$SRC/tools/pg_down.sh" "$DIR/pg" >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT
"$SRC/tools/pg_up.sh" "$DIR/pg" >/dev/null
mkdir -p "$DIR/tmp"
OBSFLOW_BIN_DIR=$BIN OBSFLOW_SOURCE_DIR=$SRC OBSFLOW_SHARED=$SHARED OBSFLOW_TEST_TMP=$DIR/tmp \
  PGHOST=$DIR/pg PGUSER=postgres PGDATABASE=postgres \
  python3 "$SRC/tests/bench/bench_dataset.py"
