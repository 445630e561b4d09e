#!/bin/bash
# bench_repo.sh - the CAOM repository (make bench; figures, not pass/fail), on a private
# PostgreSQL cluster this script starts and stops under a temporary directory, with the
# raw-SQL baseline on the same cluster in the same run:
#   1. raw SQL: INSERT and SELECT-by-key of the same documents, one statement per row
#   2. PUT over HTTP of BENCH_REPO_COUNT (10,000) documents built from the shared CADC outputs
#      (IDs varied, fresh UUIDs), 4 client threads
#   3. repo_push over HTTP of another 10,000 (GET 404 -> PUT), then the same observations
#      built anew pushed again (GET -> merge -> unchanged, nothing written)
#   4. the same two passes through the local target (the store in-process, no HTTP)
#   5. wrk, 64 connections: GET of one observation document, median of BENCH_WRK_RUNS runs
#   6. the list of a 100,000-observation collection (GET /caom2/observations/C), median of 3,
#      against psql fetching the same rows
# Env: OBSFLOW_BIN_DIR, OBSFLOW_SOURCE_DIR, OBSFLOW_SHARED, BENCH_REPO_COUNT, BENCH_WRK_S,
#      BENCH_WRK_RUNS.
set -euo pipefail
SRC=${OBSFLOW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${OBSFLOW_BIN_DIR:-$SRC/build}
SHARED=${OBSFLOW_SHARED:-$SRC/../shared}
COUNT=${BENCH_REPO_COUNT:-10000}
WRK_S=${BENCH_WRK_S:-5}
WRK_RUNS=${BENCH_WRK_RUNS:-3}
for b in obsflowd bench_repo; do
  [ -x "$BIN/$b" ] || { echo "bench_repo: $BIN/$b is not built" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "bench_repo: wrk is not installed (tools/deps.sh)" >&2; exit 1; }
DIR=$(mktemp -d /tmp/obsr.XXXXXX)
chmod 755 "$DIR"
DPID=
cleanup() {
  if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then kill -TERM "$DPID"; wait "$DPID" || true; fi
  "$SRC/tools/pg_down.sh" "$DIR/pg" >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT
"$SRC/tools/pg_up.sh" "$DIR/pg"
"$SRC/tools/pg_createdb.sh" "$DIR/pg" obsflow_bench
CONN="host=$DIR/pg user=postgres dbname=obsflow_bench"
PSQL=(psql -h "$DIR/pg" -U postgres -d obsflow_bench -XAtq)
# templates: the CAOM-2.4 documents CADC pipelines produced for the shared headers
TPL=()
for f in "$SHARED"/testdata/caom2/wallaby2caom2/dr2/*.expected.xml \
         "$SHARED"/testdata/caom2/possum2caom2/*/*.expected.xml \
         "$SHARED"/testdata/caom2/vlass2caom2/*.expected.xml \
         "$SHARED"/testdata/caom2/dao2caom2/*.expected.xml \
         "$SHARED"/testdata/caom2/neossat2caom2/*.expected.xml; do
  [ -f "$f" ] && TPL+=("$f")
done
echo "repo.setup postgres=$(pg_config --version | awk '{print $2}') cores=$(nproc) count=$COUNT templates=${#TPL[@]}"

env OBSFLOW_DATABASE_URL="$CONN" OBSFLOW_LOG_LEVEL=warn OBSFLOW_WORKERS=0 "$BIN/obsflowd" \
  --listen 127.0.0.1:0 --port-file "$DIR/port" </dev/null >"$DIR/obsflowd.log" 2>&1 &
DPID=$!
for _ in $(seq 300); do [ -s "$DIR/port" ] && break; sleep 0.05; done
ADDR=$(cat "$DIR/port")
for _ in $(seq 300); do curl -fs "http://$ADDR/readyz" >/dev/null && break; sleep 0.1; done
BASE="http://$ADDR/caom2"

# 1. raw SQL baseline (the database is migrated by now)
"$BIN/bench_repo" baseline --db "$CONN" --collection BASE --count "$COUNT" "${TPL[@]}"
# 2. PUT over HTTP
"$BIN/bench_repo" put --url "$BASE" --collection PUTS --count "$COUNT" --threads 4 "${TPL[@]}"
"${PSQL[@]}" -c "ANALYZE caom_observations; ANALYZE caom_entities" >/dev/null
# 3. push over HTTP, 4. push through the local target
"$BIN/bench_repo" push --url "$BASE" --collection PUSH --count "$COUNT" --threads 4 "${TPL[@]}"
"$BIN/bench_repo" push --db "$CONN" --collection LOCAL --count "$COUNT" --threads 4 "${TPL[@]}"

# 5. GET of one document
runs=()
for _ in $(seq "$WRK_RUNS"); do
  out=$(wrk -t2 -c64 -d"${WRK_S}s" --latency "$BASE/observations/PUTS/bench-0000001")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  runs+=("$rps")
  [ -n "$bad" ] && echo "repo.get non_2xx=$bad"
done
med=$(printf '%s\n' "${runs[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "repo.get_wrk connections=64 runs=${runs[*]} median_per_s=$med"

# 6. list of 100,000 rows: rows made by SQL from one stored observation (ids varied)
"${PSQL[@]}" -c "INSERT INTO caom_observations (id, collection, observation_id, derived,
  meta_checksum, acc_meta_checksum, last_modified, max_last_modified, doc)
  SELECT gen_random_uuid(), 'BIG', 'big-' || lpad(i::text, 7, '0'), derived, meta_checksum,
         acc_meta_checksum, last_modified, max_last_modified + (i % 5000) * interval '1 ms', doc
  FROM caom_observations, generate_series(1, 100000) i
  WHERE collection = 'PUTS' AND observation_id = 'bench-0000001';
  ANALYZE caom_observations" >/dev/null
lt=(); bt=()
for _ in 1 2 3; do
  t=$(curl -s -o "$DIR/list.tsv" -w '%{time_total}' "$BASE/observations/BIG")
  lt+=("$t")
  s=$(date +%s.%N)
  "${PSQL[@]}" -c "SELECT collection, observation_id, to_char(max_last_modified AT TIME ZONE 'UTC',
    'YYYY-MM-DD\"T\"HH24:MI:SS.MS'), acc_meta_checksum FROM caom_observations WHERE collection = 'BIG'
    ORDER BY max_last_modified, observation_id LIMIT 100000" >"$DIR/base.tsv"
  e=$(date +%s.%N)
  bt+=("$(echo "$e - $s" | bc -l)")
done
rows=$(wc -l <"$DIR/list.tsv")
lm=$(printf '%s\n' "${lt[@]}" | sort -n | sed -n 2p)
bm=$(printf '%s\n' "${bt[@]}" | sort -n | sed -n 2p)
echo "repo.list rows=$rows median_s=$lm baseline_psql_median_s=$(printf '%.3f' "$bm") ratio=$(echo "$lm / $bm" | bc -l | xargs printf '%.2f')"
