#!/bin/bash
# bench_collection.sh - collection runs (make bench; figures, not pass/fail): listing + diff +
# fan-out of 100,000 generated entries in a `file:` source, unchanged re-runs, the child
# enqueue rate against the queue's own batch enqueue, and obsflowd's peak RSS while a run
# lists 1,000,000 entries, on a private PostgreSQL cluster this script starts and stops under a
# temporary directory (tests/bench/bench_collection.py).
# Env: OBSFLOW_BIN_DIR, OBSFLOW_SOURCE_DIR, OBSFLOW_SHARED, BENCH_COLL_ENTRIES,
#      BENCH_COLL_ROUNDS, BENCH_COLL_MILLION (0: skip the memory run), BENCH_COLL_REST (0: the
#      first run only, to compare two builds run after run).
set -euo pipefail
SRC=${OBSFLOW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${OBSFLOW_BIN_DIR:-$SRC/build}
SHARED=${OBSFLOW_SHARED:-$SRC/../shared}
[ -x "$BIN/obsflowd" ] || { echo "bench_collection: $BIN/obsflowd is not built" >&2; exit 1; }
DIR=$(mktemp -d /tmp/obsc.XXXXXX)
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
  python3 "$SRC/tests/bench/bench_collection.py"
