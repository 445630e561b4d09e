#!/bin/bash
# bench_ingest.sh - ingest jobs end to end (make bench; figures, not pass/fail): 10,000
# observations from the shared CAOM headers (varied IDs) submitted as `ingest` jobs to one
# obsflowd and pushed into its built-in repository, on a private PostgreSQL cluster this
# script starts and stops under a temporary directory; `obsflow caom` on the same headers in
# the same run as the baseline (tests/bench/bench_ingest.py).
# Env: OBSFLOW_BIN_DIR, OBSFLOW_SOURCE_DIR, OBSFLOW_SHARED, BENCH_INGEST_COUNT,
#      BENCH_INGEST_WORKERS, BENCH_INGEST_CLI_RUNS.
set -euo pipefail
SRC=${OBSFLOW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${OBSFLOW_BIN_DIR:-$SRC/build}
SHARED=${OBSFLOW_SHARED:-$SRC/../shared}
for b in obsflowd obsflow; do
  [ -x "$BIN/$b" ] || { echo "bench_ingest: $BIN/$b is not built" >&2; exit 1; }
done
DIR=$(mktemp -d /tmp/obsi.XXXXXX)
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
  python3 "$SRC/tests/bench/bench_ingest.py"
