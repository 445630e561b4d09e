#!/bin/bash
# bench_dashboard.sh - the dashboard's polled requests with a big history (make bench; figures,
# not pass/fail; issue 11 item 2: each <= 50 ms with 1,000,000 jobs): BENCH_DASHBOARD_JOBS jobs
# inserted with SQL into the database of one obsflowd, every route the dashboard polls timed
# (tests/bench/bench_dashboard.py), on a private PostgreSQL cluster this script starts and
# stops under a temporary directory.
# Env: OBSFLOW_BIN_DIR, OBSFLOW_SOURCE_DIR, BENCH_DASHBOARD_JOBS, BENCH_DASHBOARD_REPEAT.
set -euo pipefail
SRC=${OBSFLOW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${OBSFLOW_BIN_DIR:-$SRC/build}
[ -x "$BIN/obsflowd" ] || { echo "bench_dashboard: $BIN/obsflowd is not built" >&2; exit 1; }
DIR=$(mktemp -d /tmp/obsd.XXXXXX)
chmod 755 "$DIR"
cleanup() {
  "$SRC/tools/pg_down.sh" "$DIR/pg" >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT
"$SRC/tools/pg_up.sh" "$DIR/pg" >/dev/null
mkdir -p "$DIR/tmp"
echo "dashboard.setup postgres=$(pg_config --version | awk '{print $2}') cores=$(nproc) load=$(cut -d' ' -f1 /proc/loadavg)"
OBSFLOW_BIN_DIR=$BIN OBSFLOW_SOURCE_DIR=$SRC OBSFLOW_TEST_TMP=$DIR/tmp \
  PGHOST=$DIR/pg PGUSER=postgres PGDATABASE=postgres \
  python3 "$SRC/tests/bench/bench_dashboard.py"
