#!/bin/bash
# bench_registry.sh - the dataset registry (make bench; figures, not pass/fail), on a private
# PostgreSQL cluster this script starts and stops under a temporary directory:
#   1. register BENCH_REG_COUNT (100,000) datasets through lib/registry in batches of 1000,
#      then the same rows as raw SQL (INSERT ... SELECT FROM unnest) in batches of the same size
#   2. look up the certified bias of BENCH_REG_COUNT (exposure, detector) pairs through
#      lib/registry, then the same answers by a prepared raw SQL join, 2 threads each
# Env: OBSFLOW_BIN_DIR, OBSFLOW_SOURCE_DIR, BENCH_REG_COUNT, BENCH_REG_THREADS.
set -euo pipefail
SRC=${OBSFLOW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${OBSFLOW_BIN_DIR:-$SRC/build}
COUNT=${BENCH_REG_COUNT:-100000}
THREADS=${BENCH_REG_THREADS:-2}
[ -x "$BIN/bench_registry" ] || { echo "bench_registry: $BIN/bench_registry is not built" >&2; exit 1; }
DIR=$(mktemp -d -t obsg.XXXXXX)
chmod 755 "$DIR"
cleanup() {
  "$SRC/tools/pg_down.sh" "$DIR/pg" >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT
"$SRC/tools/pg_up.sh" "$DIR/pg"
"$SRC/tools/pg_createdb.sh" "$DIR/pg" obsflow_bench
echo "registry.env postgres=$(pg_config --version | awk '{print $2}') cores=$(nproc) count=$COUNT threads=$THREADS"
"$BIN/bench_registry" --db "host=$DIR/pg user=postgres dbname=obsflow_bench" --count "$COUNT" \
  --batch 1000 --threads "$THREADS"
