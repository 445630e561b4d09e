#!/bin/bash
# bench_queue.sh - queue throughput (make bench; figures, not pass/fail): the raw-SQL baseline
# (claim 100 + complete 100 per transaction) and lib/queue + the worker pool draining
# BENCH_QUEUE_JOBS (default 100,000) noop jobs, on one private PostgreSQL cluster that this script
# starts and stops under a temporary directory (fsync off, as the test fixture).
# Env: OBSFLOW_BIN_DIR (bench_queue, built with the project), OBSFLOW_SOURCE_DIR.
set -euo pipefail
SRC=${OBSFLOW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${OBSFLOW_BIN_DIR:-$SRC/build}
JOBS=${BENCH_QUEUE_JOBS:-100000}
[ -x "$BIN/bench_queue" ] || { echo "bench_queue: $BIN/bench_queue is not built" >&2; exit 1; }
DIR=$(mktemp -d /tmp/obsq.XXXXXX)
chmod 755 "$DIR"
cleanup() { "$SRC/tools/pg_down.sh" "$DIR/pg" >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap cleanup EXIT
"$SRC/tools/pg_up.sh" "$DIR/pg"
"$SRC/tools/pg_createdb.sh" "$DIR/pg" obsflow_bench
echo "queue.setup postgres=$(pg_config --version | awk '{print $2}') cores=$(nproc) jobs=$JOBS load=$(cut -d' ' -f1 /proc/loadavg)"
# the server's CPU per job is less sensitive to a busy machine than wall time
BENCH_PG_PID=$(head -1 "$DIR/pg/data/postmaster.pid" 2>/dev/null || true)
export BENCH_PG_PID
"$BIN/bench_queue" all --db "host=$DIR/pg user=postgres dbname=obsflow_bench" --jobs "$JOBS"
